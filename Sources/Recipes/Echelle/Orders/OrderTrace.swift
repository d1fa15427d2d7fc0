import CalibCore
import Dispatch
import Foundation

/// Order-centre trace from an order-definition frame (a continuum lamp seen
/// through a single pinhole): the centre of every order is measured in
/// cross-dispersion slices along the dispersion axis, orders are numbered
/// physically from a configured first guess, and one global polynomial
/// x = Σ cᵢⱼ nⁱ yʲ is fitted to all of them with iterative σ clipping.
///
/// Order numbering: at the middle row, the detected trace nearest to
/// `referenceOrderX` × width is order `referenceOrder`; the others count on
/// from it, the number growing with x when `orderDirection` is +1 (falling
/// when −1). Both come from the instrument profile (per arm), never from code.
public struct OrderTrace: Sendable {
    public static let name = "ordertrace"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "sliceRows", "sliceStep", "minSNR", "orderDegree", "yDegree", "clipSigma", "clipIterations",
        "referenceOrder", "referenceOrderX", "orderDirection", "minDetectedFraction",
    ]

    /// Rows combined (median) into one cross-dispersion slice.
    public var sliceRows: Int
    /// Rows between slices (0: height / 128, at least 2).
    public var sliceStep: Int
    /// A trace is a local maximum this many noise σ above the slice's background.
    public var minSNR: Double
    public var orderDegree: Int
    public var yDegree: Int
    public var clipSigma: Double
    public var clipIterations: Int
    public var referenceOrder: Int
    public var referenceOrderX: Double
    public var orderDirection: Int
    /// Orders detected in fewer than this fraction of the slices are dropped.
    public var minDetectedFraction: Double

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        sliceRows = Int(try r.value("sliceRows", default: 5, in: 1...101))
        sliceStep = Int(try r.value("sliceStep", default: 0, in: 0...1000))
        minSNR = try r.value("minSNR", default: 15, in: 2...1e6)
        orderDegree = Int(try r.value("orderDegree", default: 4, in: 0...10))
        yDegree = Int(try r.value("yDegree", default: 5, in: 0...10))
        clipSigma = try r.value("clipSigma", default: 4, in: 1...100)
        clipIterations = Int(try r.value("clipIterations", default: 10, in: 1...100))
        guard let reference = parameters["referenceOrder"], let referenceX = parameters["referenceOrderX"] else {
            throw RecipeParameterError(recipe: Self.name, parameter: "referenceOrder",
                                       message: "referenceOrder and referenceOrderX (the first guess of the order numbering) must be configured")
        }
        referenceOrder = Int(try r.value("referenceOrder", default: reference, in: 1...10000))
        referenceOrderX = try r.value("referenceOrderX", default: referenceX, in: 0...1)
        orderDirection = try r.value("orderDirection", default: 1, in: -1...1) < 0 ? -1 : 1
        minDetectedFraction = try r.value("minDetectedFraction", default: 0.3, in: 0...1)
    }

    /// One measured centre.
    public struct Detection: Sendable, Equatable {
        public var order: Int
        public var y: Double
        public var x: Double
    }

    public struct Result: Sendable {
        public var geometry: OrderGeometry
        public var detections: [Detection]
        /// Detected − fitted, per detection.
        public var residuals: [Double]
        public var clipped: [Bool]
        public var metrics: [QCMeasurement]
    }

    public enum Failure: Error, CustomStringConvertible {
        case noTraces(String)
        case fit(String)
        public var description: String {
            switch self {
            case .noTraces(let s): "order trace: \(s)"
            case .fit(let s): "order trace fit: \(s)"
            }
        }
    }

    /// - Parameter image: the bias-subtracted light-sensitive area (x cross-dispersion, y dispersion).
    public func run(_ image: Image) throws -> Result {
        let height = image.height
        let step = sliceStep > 0 ? sliceStep : max(2, height / 128)
        let half = sliceRows / 2
        let sliceCentres = Array(stride(from: half, to: height - half, by: step))
        guard sliceCentres.count >= 3 else { throw Failure.noTraces("image too small for slices of \(sliceRows) rows") }

        // Peaks of every slice, in parallel.
        var peaks = [[Double]](repeating: [], count: sliceCentres.count)
        peaks.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            RecipeParallelism.concurrentPerform(iterations: sliceCentres.count) { k in
                let profile = CrossProfile.medianSlice(image, centreRow: sliceCentres[k], rows: sliceRows)
                out[k] = CrossProfile.peaks(profile, minSNR: minSNR)
            }
        }

        // Number the traces at the middle slice.
        let middle = sliceCentres.count / 2
        let mid = peaks[middle]
        guard mid.count >= 2 else { throw Failure.noTraces("\(mid.count) trace(s) in the middle slice (row \(sliceCentres[middle]))") }
        let expected = referenceOrderX * Double(image.width - 1)
        let k0 = mid.indices.min { abs(mid[$0] - expected) < abs(mid[$1] - expected) }!
        let gaps = zip(mid.dropFirst(), mid).map { $0 - $1 }
        let localGap = k0 < gaps.count ? gaps[k0] : gaps[k0 - 1]
        guard abs(mid[k0] - expected) < 0.5 * localGap else {
            throw Failure.noTraces(String(format: "no trace within half an order spacing of the first guess x = %.1f (nearest %.1f)", expected, mid[k0]))
        }
        let tolerance = max(1.5, 0.3 * (gaps.min() ?? 10))

        // Follow each order from the middle outward.
        var detections: [Detection] = []
        for (i, x0) in mid.enumerated() {
            let order = referenceOrder + orderDirection * (i - k0)
            detections.append(Detection(order: order, y: Double(sliceCentres[middle]), x: x0))
            for direction in [1, -1] {
                var track: [(y: Double, x: Double)] = [(Double(sliceCentres[middle]), x0)]
                var misses = 0
                var k = middle + direction
                while k >= 0 && k < sliceCentres.count && misses < 8 {
                    let y = Double(sliceCentres[k])
                    var predicted = track[track.count - 1].x
                    if track.count >= 2 {
                        let a = track[track.count - 1], b = track[max(0, track.count - 4)]
                        if a.y != b.y { predicted += (a.x - b.x) / (a.y - b.y) * (y - a.y) }
                    }
                    if let best = CrossProfile.nearest(peaks[k], to: predicted), abs(best - predicted) < tolerance {
                        track.append((y, best))
                        detections.append(Detection(order: order, y: y, x: best))
                        misses = 0
                    } else {
                        misses += 1
                    }
                    k += direction
                }
            }
        }
        // Drop orders seen in too few slices.
        var counts: [Int: Int] = [:]
        for d in detections { counts[d.order, default: 0] += 1 }
        let kept = Set(counts.filter { Double($0.value) >= minDetectedFraction * Double(sliceCentres.count) }.keys)
        detections = detections.filter { kept.contains($0.order) }.sorted { ($0.order, $0.y) < ($1.order, $1.y) }
        guard kept.count >= 2 else { throw Failure.noTraces("fewer than two orders followed over \(Int(minDetectedFraction * 100)) % of the rows") }

        let fit = try Self.fitWithFallback(
            points: detections.map { [Double($0.order), $0.y] }, values: detections.map(\.x),
            degrees: [orderDegree, yDegree], clipSigma: clipSigma, iterations: clipIterations)
        var ranges: [Int: ClosedRange<Int>] = [:]
        for d in detections {
            let y = Int(d.y)
            if let r = ranges[d.order] { ranges[d.order] = min(r.lowerBound, y - half)...max(r.upperBound, y + half) } else {
                ranges[d.order] = (y - half)...(y + half)
            }
        }
        for (o, r) in ranges { ranges[o] = max(0, r.lowerBound)...min(height - 1, r.upperBound) }
        let orders = kept.sorted()
        let geometry = OrderGeometry(orders: orders, rowRanges: ranges, centre: fit.result.surface)
        let keptResiduals = fit.result.residuals.indices.filter { !fit.result.clipped[$0] }.map { fit.result.residuals[$0] }
        let metrics = [
            QCMeasurement("orderCount", Double(orders.count), unit: "", "orders traced"),
            QCMeasurement("firstOrder", Double(orders.first!), unit: "", "lowest physical order traced"),
            QCMeasurement("lastOrder", Double(orders.last!), unit: "", "highest physical order traced"),
            QCMeasurement("detections", Double(detections.count), unit: "", "order-centre measurements"),
            QCMeasurement("clippedFraction", Double(fit.result.clipped.filter { $0 }.count) / Double(detections.count), unit: "",
                          "fraction of measurements clipped from the fit"),
            QCMeasurement("centreResidualRMS", fit.result.rms, unit: "px", "RMS of measured − fitted centres (kept points)"),
            QCMeasurement("centreResidualMax", keptResiduals.map(abs).max() ?? .nan, unit: "px", "largest |measured − fitted| (kept points)"),
            QCMeasurement("orderDegree", Double(fit.degrees[0]), unit: "", "polynomial degree in order number"),
            QCMeasurement("yDegree", Double(fit.degrees[1]), unit: "", "polynomial degree in row"),
        ]
        return Result(geometry: geometry, detections: detections, residuals: fit.result.residuals, clipped: fit.result.clipped, metrics: metrics)
    }

    /// Fits, and on failure lowers the degrees (the larger first) and refits, up to five times.
    static func fitWithFallback(points: [[Double]], values: [Double], degrees: [Int], clipSigma: Double,
                                iterations: Int) throws -> (result: PolynomialSurfaceFit.Result, degrees: [Int]) {
        var degrees = degrees
        var lastError: (any Error)?
        for _ in 0...5 {
            do {
                let r = try PolynomialSurfaceFit(degrees: degrees, clipSigma: clipSigma, maxIterations: iterations)
                    .fit(points: points, values: values)
                return (r, degrees)
            } catch {
                lastError = error
                guard let i = degrees.indices.max(by: { degrees[$0] < degrees[$1] }), degrees[i] > 0 else { break }
                degrees[i] -= 1
            }
        }
        throw Failure.fit("no fit after lowering the degrees: \(lastError.map { "\($0)" } ?? "?")")
    }
}

/// Cross-dispersion profiles and the peaks in them.
public enum CrossProfile {
    /// Per column, the median of `rows` rows centred on `centreRow`.
    public static func medianSlice(_ image: Image, centreRow: Int, rows: Int, columns: Range<Int>? = nil) -> [Float] {
        let cols = columns ?? 0..<image.width
        let first = max(0, centreRow - rows / 2), last = min(image.height - 1, centreRow + rows / 2)
        var out = [Float](repeating: 0, count: cols.count)
        var values = [Float](repeating: 0, count: last - first + 1)
        image.pixels.withUnsafeBufferPointer { p in
            for (i, x) in cols.enumerated() {
                for r in first...last { values[r - first] = p[r * image.width + x] }
                out[i] = Float(RobustStatistics.medianInPlace(&values))
            }
        }
        return out
    }

    /// Centroids of the significant local maxima of a pinhole-trace profile.
    static func peaks(_ p: [Float], minSNR: Double) -> [Double] {
        let n = p.count
        guard n > 8 else { return [] }
        var diffs = [Float](repeating: 0, count: n - 1)
        for i in 0..<(n - 1) { diffs[i] = abs(p[i + 1] - p[i]) }
        let noise = max(RobustStatistics.medianInPlace(&diffs) * RobustStatistics.madToSigma / 2.0.squareRoot(), 1e-6)
        var sorted = p
        let background = RobustStatistics.medianInPlace(&sorted)
        let threshold = background + minSNR * noise
        var out: [Double] = []
        var x = 1
        while x < n - 1 {
            defer { x += 1 }
            let v = Double(p[x])
            guard v > threshold, p[x] >= p[x - 1], p[x] > p[x + 1] else { continue }
            // Half width from the half-maximum crossing, then an iterated centroid in ±2 FWHM.
            let halfMax = Float(background + (v - background) / 2)
            var l = x, r = x
            while l > 0 && p[l] > halfMax { l -= 1 }
            while r < n - 1 && p[r] > halfMax { r += 1 }
            let hw = max(2, Int((Double(r - l)).rounded(.up)))
            var c = Double(x)
            var ok = true
            for _ in 0..<3 {
                let centre = Int(c.rounded())
                guard centre - hw >= 0, centre + hw < n else { ok = false; break }
                var s = 0.0, sx = 0.0
                for i in (centre - hw)...(centre + hw) {
                    let w = Double(p[i]) - background
                    s += w; sx += w * Double(i)
                }
                guard s > 0 else { ok = false; break }
                c = sx / s
            }
            guard ok else { continue }
            if let last = out.last, abs(last - c) < Double(hw) { continue }
            out.append(c)
            x = max(x, r)
        }
        return out
    }

    static func nearest(_ sorted: [Double], to value: Double) -> Double? {
        sorted.min { abs($0 - value) < abs($1 - value) }
    }
}
