import CalibCore
import Dispatch
import Foundation

/// Master flat (the reference's soxs_mflat): bias- (or dark-) subtracted flats,
/// each scaled by its exposure level measured in a central window, σ-clipped
/// and stacked strip-wise; order edges found in cross-dispersion slices and
/// fitted with global polynomials; the flat normalised by each order's
/// smoothed illumination (inner-order pixels ≈ 1); a bad-pixel map of
/// low-sensitivity pixels and columns merged with the hot pixels upstream.
///
/// Frames whose level per second departs from the set's median by more than
/// `levelTolerance` (a lamp that did not light, a different lamp current)
/// are left out of the stack, and said so in `rejectedFrames`.
///
/// Arms lit by two lamps (a D2 lamp for the blue orders, a QTH lamp for the
/// red ones) get one master per lamp, scaled to each other and stitched at a
/// configured order: see `StitchedMasterFlat`, which reuses `combine` and
/// `normalise` per lamp and on the stitched stack.
///
/// With `subtractBackground` 1 the scattered light between and under the
/// orders is fitted (`IntraOrderBackground`: per-row B-splines through the
/// inter-order pixels, Gaussian-smoothed), subtracted from the combined flat
/// before normalising, and returned as `background`; the edges are then
/// traced again on the subtracted flat, since the background lifts the wings
/// and moves the threshold crossings outward.
public struct MasterFlat: Sendable {
    public static let name = "mflat"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "clipSigma", "clipIterations", "centralWindow", "levelTolerance",
        "sliceLength", "sliceWidth", "sliceStep", "edgeThresholdPercent", "minThresholdPercent", "maxThresholdPercent",
        "orderDegree", "yDegree", "edgeClipSigma", "edgeClipIterations", "lowSensitivitySigma", "smoothRows",
        "plateauSigmas", "subtractBackground", "backgroundSplineDegree", "backgroundBreakpoints", "backgroundMargin",
        "backgroundClipSigma", "backgroundClipIterations", "backgroundSmoothSigma",
    ]

    public var stack: SigmaClippedStack
    /// Rows of the central band (all columns) whose lit pixels' median is a frame's exposure level.
    public var centralWindow: Int
    public var levelTolerance: Double
    /// Cross-dispersion length of an edge slice (0: 1.2 × the local order spacing).
    public var sliceLength: Int
    /// Rows medianed into one edge slice.
    public var sliceWidth: Int
    /// Rows between edge slices (0: height / 128).
    public var sliceStep: Int
    /// The edge lies where the flux falls to this percentage of the order's central flux.
    public var edgeThreshold: Double
    /// Beyond the edge the flux must fall to at most this percentage (else the order is blended; no edge).
    public var minThreshold: Double
    /// Between the centre and the edge the flux may climb to at most this percentage (else a cosmic ray or hot pixel).
    public var maxThreshold: Double
    public var orderDegree: Int
    public var yDegree: Int
    public var edgeClipSigma: Double
    public var edgeClipIterations: Int
    public var lowSensitivitySigma: Double
    /// Half-width (rows) of the local quadratic fit smoothing each order's illumination along the dispersion axis.
    public var smoothRows: Int
    /// The order's plateau (inner region) starts this many edge widths (σ) inside the half-flux point.
    public var plateauSigmas: Double
    /// The scattered-light fit, when `subtractBackground` is 1.
    public var background: IntraOrderBackground?

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        stack = SigmaClippedStack(sigma: try r.value("clipSigma", default: 3, in: 1...20),
                                  iterations: Int(try r.value("clipIterations", default: 3, in: 1...50)))
        centralWindow = Int(try r.value("centralWindow", default: 200, in: 8...100_000))
        levelTolerance = try r.value("levelTolerance", default: 0.1, in: 0.001...10)
        sliceLength = Int(try r.value("sliceLength", default: 0, in: 0...10_000))
        sliceWidth = Int(try r.value("sliceWidth", default: 5, in: 1...101))
        sliceStep = Int(try r.value("sliceStep", default: 0, in: 0...10_000))
        edgeThreshold = try r.value("edgeThresholdPercent", default: 5, in: 0.1...99) / 100
        minThreshold = try r.value("minThresholdPercent", default: 3, in: 0...99) / 100
        maxThreshold = try r.value("maxThresholdPercent", default: 150, in: 100...10_000) / 100
        orderDegree = Int(try r.value("orderDegree", default: 4, in: 0...10))
        yDegree = Int(try r.value("yDegree", default: 5, in: 0...10))
        edgeClipSigma = try r.value("edgeClipSigma", default: 4, in: 1...100)
        edgeClipIterations = Int(try r.value("edgeClipIterations", default: 10, in: 1...100))
        lowSensitivitySigma = try r.value("lowSensitivitySigma", default: 6, in: 1...100)
        smoothRows = Int(try r.value("smoothRows", default: 48, in: 0...1000))
        plateauSigmas = try r.value("plateauSigmas", default: 3, in: 0...20)
        let subtract = try r.value("subtractBackground", default: 0, in: 0...1)
        let background = IntraOrderBackground(
            degree: Int(try r.value("backgroundSplineDegree", default: 3, in: 1...5)),
            breakpoints: Int(try r.value("backgroundBreakpoints", default: 12, in: 2...200)),
            margin: try r.value("backgroundMargin", default: 0, in: 0...1000),
            clipSigma: try r.value("backgroundClipSigma", default: 3, in: 1...100),
            clipIterations: Int(try r.value("backgroundClipIterations", default: 5, in: 0...100)),
            smoothSigma: try r.value("backgroundSmoothSigma", default: 10, in: 0...1000))
        self.background = subtract >= 0.5 ? background : nil
    }

    /// One edge measurement in a slice.
    public struct EdgeDetection: Sendable {
        public var order: Int
        public var y: Double
        public var lower: Double?
        public var upper: Double?
    }

    public struct Result: Sendable {
        /// Normalised flat: inner-order pixels ≈ 1, elsewhere 1 and flagged.
        public var flat: Image
        /// 1σ error of the normalised flat (0 where not measured).
        public var error: Image
        /// `PixelFlag` bits per pixel.
        public var flags: [UInt8]
        /// The combined, level-scaled flat in ADU of a typical input frame, background subtracted
        /// when it was fitted (for QC plots and the tests).
        public var combined: Image
        /// The fitted scattered-light background (ADU, same scale as `combined`), nil when not fitted.
        public var background: Image?
        /// The order table with the edges.
        public var geometry: OrderGeometry
        public var edges: [EdgeDetection]
        /// Measured − fitted edge positions (lower then upper, kept points only).
        public var lowerResiduals: [(order: Int, y: Double, residual: Double)]
        public var upperResiduals: [(order: Int, y: Double, residual: Double)]
        /// Frames left out of the stack and why, by input index.
        public var rejectedFrames: [(index: Int, reason: String)]
        public var levels: [Double]
        public var metrics: [QCMeasurement]
    }

    public enum Failure: Error, CustomStringConvertible {
        case tooFewFrames(String)
        case noEdges(String)
        public var description: String {
            switch self {
            case .tooFewFrames(let s): "master flat: \(s)"
            case .noEdges(let s): "master flat edges: \(s)"
            }
        }
    }

    /// - Parameters:
    ///   - source: flats with the bias (or dark) subtracted, light-sensitive area only.
    ///   - exposureTimes: seconds, per frame.
    ///   - centres: the order-centre trace (ORDER_CENTRES).
    ///   - gain: e⁻/ADU; readNoise in ADU.
    ///   - hotPixels: flags from upstream (bias/dark), same size as the flat, or nil.
    public func run(_ source: CorrectedFrames, exposureTimes: [Double], centres: OrderGeometry, gain: Double,
                    readNoise: Double, hotPixels: [UInt8]? = nil) throws -> Result {
        try normalise(try combine(source, exposureTimes: exposureTimes, gain: gain, readNoise: readNoise),
                      centres: centres, gain: gain, readNoise: readNoise, hotPixels: hotPixels)
    }

    /// A level-scaled, σ-clipped stack of flats (steps 1–2 of `run`), before edges and normalisation.
    public struct Combination: Sendable {
        /// ADU of a typical input frame (each frame scaled to the kept frames' median level).
        public var combined: Image
        public var levels: [Double]
        public var rejected: [(index: Int, reason: String)]
        /// Indices of the frames stacked.
        public var kept: [Int]
        public var keptLevel: Double
        public var clippedValues: Int
    }

    /// Steps 1–2 of `run`: exposure levels, frames that do not belong, scaled σ-clipped stack.
    public func combine(_ source: CorrectedFrames, exposureTimes: [Double], gain: Double, readNoise: Double) throws -> Combination {
        // 1. Exposure levels in the central window, and frames that do not belong.
        let levels = try Self.levels(source, window: centralWindow)
        let perSecond = levels.indices.map { levels[$0] / max(exposureTimes[$0], 1e-9) }
        let reference = RobustStatistics.median(perSecond.map { Float($0) })
        var rejected: [(Int, String)] = []
        var kept: [Int] = []
        for i in levels.indices {
            let ratio = perSecond[i] / reference
            if !(levels[i] > 0) || !(abs(ratio - 1) <= levelTolerance) {
                rejected.append((i, String(format: "exposure level %.1f ADU (%.3g ADU/s) is %.0f %% of the set's median; tolerance ±%.0f %%",
                                           levels[i], perSecond[i], ratio * 100, levelTolerance * 100)))
            } else {
                kept.append(i)
            }
        }
        guard kept.count >= 2 else {
            throw Failure.tooFewFrames("only \(kept.count) of \(levels.count) flats have a consistent exposure level: "
                                       + rejected.map { "frame \($0.0 + 1): \($0.1)" }.joined(separator: "; "))
        }
        // 2. Scale each to the median level of the kept frames and stack.
        let keptLevel = RobustStatistics.median(kept.map { Float(levels[$0]) })
        let scale = kept.map { Float(keptLevel / levels[$0]) }
        let (combined, clippedValues) = try stack.combine(source.subset(kept), scale: scale, noiseFloor: Float(readNoise),
                                                           gain: gain > 0 ? Float(gain) : 0)
        return Combination(combined: combined, levels: levels, rejected: rejected.map { (index: $0.0, reason: $0.1) }, kept: kept,
                           keptLevel: keptLevel, clippedValues: clippedValues)
    }

    /// Steps 3–7 of `run` on a combined flat: edges, normalisation, bad pixels, QC.
    ///
    /// With `assessBadPixels` false only steps 3–5 run, for a flat whose edges and
    /// normalised values are kept but whose pixels are judged elsewhere (a stitched
    /// master's per-lamp masters: their stacks are judged once, stitched): the result's
    /// `error` is empty (0 × 0), its flags carry only `orderEdge`/`interOrder` (no
    /// low-sensitivity, hot or bad-column bits; `hotPixels` is not read), and its
    /// metrics are those of the stack and the edges (no cold-pixel, response or
    /// inter-order figures). Flat values, edges and geometry are bit-identical to a
    /// full run's.
    public func normalise(_ combination: Combination, centres: OrderGeometry, gain: Double, readNoise: Double,
                          hotPixels: [UInt8]? = nil, assessBadPixels: Bool = true) throws -> Result {
        var combined = combination.combined
        let levels = combination.levels, rejected = combination.rejected
        let kept = combination.kept, keptLevel = combination.keptLevel, clippedValues = combination.clippedValues
        let width = combined.width, height = combined.height

        // 3. Order edges in slices, then global fits; with the background fitted between
        // the first edges, subtracted, and the edges traced again.
        let step = sliceStep > 0 ? sliceStep : max(2, height / 128)
        var edges = detectEdges(combined, centres: centres, step: step)
        var backgroundFit: IntraOrderBackground.Result?
        if var background {
            let first = try traceEdges(edges, centres: centres)
            // Margin 0: as far beyond the threshold edge as the plateau lies inside it (≈ 4.6 edge widths, past the PSF wings).
            if background.margin == 0 { background.margin = plateauMargin(combined, geometry: first, step: step) }
            background.noiseFloor = readNoise / Double(kept.count).squareRoot()
            let fit = background.fit(combined, geometry: first)
            combined.pixels.withUnsafeMutableBufferPointer { c in
                fit.background.pixels.withUnsafeBufferPointer { b in for i in c.indices { c[i] -= b[i] } }
            }
            backgroundFit = fit
            edges = detectEdges(combined, centres: centres, step: step)
        }
        let lowerPoints = edges.compactMap { e in e.lower.map { ([Double(e.order), e.y], $0) } }
        let upperPoints = edges.compactMap { e in e.upper.map { ([Double(e.order), e.y], $0) } }
        guard lowerPoints.count > 20, upperPoints.count > 20 else {
            throw Failure.noEdges("only \(lowerPoints.count) lower and \(upperPoints.count) upper edge points found")
        }
        let lowerFit = try OrderTrace.fitWithFallback(points: lowerPoints.map(\.0), values: lowerPoints.map(\.1),
                                                      degrees: [orderDegree, yDegree], clipSigma: edgeClipSigma, iterations: edgeClipIterations)
        let upperFit = try OrderTrace.fitWithFallback(points: upperPoints.map(\.0), values: upperPoints.map(\.1),
                                                      degrees: [orderDegree, yDegree], clipSigma: edgeClipSigma, iterations: edgeClipIterations)
        var geometry = centres
        geometry.lowerEdge = lowerFit.result.surface
        geometry.upperEdge = upperFit.result.surface
        func keptResiduals(_ points: [([Double], Double)], _ fit: PolynomialSurfaceFit.Result) -> [(order: Int, y: Double, residual: Double)] {
            points.indices.filter { !fit.clipped[$0] }.map { (Int(points[$0].0[0]), points[$0].0[1], fit.residuals[$0]) }
        }
        let lowerResiduals = keptResiduals(lowerPoints, lowerFit.result)
        let upperResiduals = keptResiduals(upperPoints, upperFit.result)

        // 4. Plateau margin: how far inside the threshold edge the flux reaches `plateau` of the centre.
        let margin = plateauMargin(combined, geometry: geometry, step: step)

        // 5. Illumination per order and row, normalisation, flags and errors.
        // Filled in parallel: three fresh full frames (144 MiB at 4096²) are first touched here.
        var flat = Self.filled(1 as Float, count: width * height)
        var error = assessBadPixels ? Self.filled(0 as Float, count: width * height) : []
        var flags = Self.filled(PixelFlag.interOrder, count: width * height)
        let nKept = Float(kept.count)
        let rn2 = Float(readNoise * readNoise)
        let g = Float(gain > 0 ? gain : 1)
        var innerCount = 0
        // Orders one after another (neighbours may share edge pixels; the later
        // order's flags win, as they always have); within an order the rows are
        // independent and run in parallel over fixed chunks.
        let chunks = max(1, min(32, height / 64))
        let rowsPerChunk = (height + chunks - 1) / chunks
        let traced = geometry
        let withError = assessBadPixels
        combined.pixels.withUnsafeBufferPointer { c in
            flat.withUnsafeMutableBufferPointer { flatOut in
            error.withUnsafeMutableBufferPointer { errorOut in
            flags.withUnsafeMutableBufferPointer { flagsOut in
            nonisolated(unsafe) let c = c, flatOut = flatOut, errorOut = errorOut, flagsOut = flagsOut
            for order in traced.orders {
                let lo = UnsafeMutableBufferPointer<Double>.allocate(capacity: height)
                let hi = UnsafeMutableBufferPointer<Double>.allocate(capacity: height)
                let illumination = UnsafeMutableBufferPointer<Double>.allocate(capacity: height)
                defer { lo.deallocate(); hi.deallocate(); illumination.deallocate() }
                nonisolated(unsafe) let loOut = lo, hiOut = hi, illuminationOut = illumination
                // Edges and raw illumination (median of the plateau pixels) of each row.
                RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                    var values: [Float] = []
                    for y in (chunk * rowsPerChunk)..<min(height, (chunk + 1) * rowsPerChunk) {
                        let (l, u) = traced.edges(order: order, y: Double(y))!
                        loOut[y] = l; hiOut[y] = u
                        illuminationOut[y] = .nan
                        let a = max(0, Int((l + margin).rounded(.up))), b = min(width - 1, Int((u - margin).rounded(.down)))
                        guard b - a >= 2 else { continue }
                        values.removeAll(keepingCapacity: true)
                        values.append(contentsOf: c[(y * width + a)...(y * width + b)])
                        illuminationOut[y] = RobustStatistics.medianInPlace(&values)
                    }
                }
                // Rows past an order's sharp end (a spectral-format cut inside the detector, as in X-shooter's NIR) would
                // pull the local quadratic of the rows just inside it off by up to 7 %, flagging whole rows as
                // low-sensitivity: rows below half the first smoothing are left out of the second.
                let first = Self.localQuadratic(Array(illumination), halfWidth: smoothRows)
                let lit = (0..<height).map { y in illumination[y] < 0.5 * first[y] ? .nan : illumination[y] }
                let smooth = Self.localQuadratic(lit, halfWidth: smoothRows)
                let peak = smooth.filter { !$0.isNaN }.max() ?? 0
                let counted = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
                counted.initialize(repeating: 0)
                defer { counted.deallocate() }
                nonisolated(unsafe) let countedOut = counted
                RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                    var inner = 0
                    for y in (chunk * rowsPerChunk)..<min(height, (chunk + 1) * rowsPerChunk) {
                        let edgeLo = max(0, Int((loOut[y]).rounded(.up))), edgeHi = min(width - 1, Int((hiOut[y]).rounded(.down)))
                        guard edgeHi >= edgeLo else { continue }
                        let a = max(0, Int((loOut[y] + margin).rounded(.up))), b = min(width - 1, Int((hiOut[y] - margin).rounded(.down)))
                        let level = smooth[y]
                        // A row whose own plateau is far below the smoothed level is past the order's end (the smoothing
                        // carries the level over a sharp end for up to `smoothRows`): its pixels are not measured, rather
                        // than flagged as low-sensitivity for having no light.
                        let measured = !level.isNaN && level > 0.01 * peak && level > 20 * readNoise
                            && illuminationOut[y] >= 0.5 * level
                        for x in edgeLo...edgeHi {
                            let i = y * width + x
                            if measured && x >= a && x <= b {
                                let v = c[i]
                                flatOut[i] = Float(Double(v) / level)
                                if withError { errorOut[i] = (max(v, 0) / g + rn2).squareRoot() / nKept.squareRoot() / Float(level) }
                                flagsOut[i] = 0
                                inner += 1
                            } else {
                                flagsOut[i] = PixelFlag.orderEdge
                            }
                        }
                    }
                    countedOut[chunk] = inner
                }
                innerCount += counted.reduce(0, +)
            }
            }
            }
            }
        }

        let lowerResidualValues = lowerResiduals.map(\.residual), upperResidualValues = upperResiduals.map(\.residual)
        let allResiduals = lowerResidualValues + upperResidualValues
        let residualStats = RobustStatistics.meanAndStandardDeviation(allResiduals.map { Float($0) })
        let stackMetrics = [
            QCMeasurement("frameCount", Double(levels.count), unit: "", "flats offered"),
            QCMeasurement("rejectedFrames", Double(rejected.count), unit: "", "flats left out for an inconsistent exposure level"),
            QCMeasurement("exposureLevelADU", keptLevel, unit: "ADU", "median exposure level (lit pixels of the central band)"),
            QCMeasurement("stackRejectedFraction", Double(clippedValues) / Double(kept.count * width * height), unit: "",
                          "fraction of pixel values clipped in stacking"),
            QCMeasurement("orderCount", Double(geometry.orders.count), unit: "", "orders whose edges were fitted"),
        ]
        let edgeMetrics = [
            QCMeasurement("edgeResidualMax", allResiduals.max() ?? .nan, unit: "px", "largest measured − fitted order edge"),
            QCMeasurement("edgeResidualMin", allResiduals.min() ?? .nan, unit: "px", "smallest measured − fitted order edge"),
            QCMeasurement("edgeResidualSD", residualStats.sd, unit: "px", "standard deviation of measured − fitted order edges"),
            QCMeasurement("edgeOrderDegree", Double(min(lowerFit.degrees[0], upperFit.degrees[0])), unit: "", "edge polynomial degree in order"),
            QCMeasurement("edgeYDegree", Double(min(lowerFit.degrees[1], upperFit.degrees[1])), unit: "", "edge polynomial degree in row"),
            QCMeasurement("plateauMarginPixels", margin, unit: "px", "distance from the threshold edge to the order plateau"),
        ]
        guard assessBadPixels else {
            return Result(flat: Image(width: width, height: height, pixels: flat), error: Image(width: 0, height: 0),
                          flags: flags, combined: combined, background: backgroundFit?.background, geometry: geometry, edges: edges,
                          lowerResiduals: lowerResiduals, upperResiduals: upperResiduals, rejectedFrames: rejected, levels: levels,
                          metrics: stackMetrics + edgeMetrics + (backgroundFit.map { Self.backgroundMetrics($0, level: keptLevel) } ?? []))
        }

        // 6. Low-sensitivity pixels and columns among the measured pixels. A pixel is judged against its own
        // noise as well as the response's scatter: limit = median − k·√(σ_intrinsic² + errorᵢ²), with
        // σ_intrinsic² = σ_response² − median(error²) (the pixels' scatter less the typical photon noise). A
        // single global limit, median − k·σ_response, flagged the faint ends of faint orders for their noise
        // alone (0.24 % of the X-shooter UVB's inner pixels on frames without defects, SIMECH's 0.57 %).
        // The measured values are gathered without NaN, as `madSigma` would drop them (its median and MAD
        // are order statistics, the same whatever order the values come in), and without its copy.
        // Gathered by both cores into the same arrays, in the same index order, a serial loop fills.
        var (inner, innerVariance) = Self.measured(flat: flat, error: error, flags: flags)
        let (medianResponse, responseSigma) = RobustStatistics.madSigmaInPlace(&inner)
        inner = []
        let limit = Float(medianResponse - lowSensitivitySigma * responseSigma)
        let typicalVariance = innerVariance.isEmpty ? 0 : Double(RobustStatistics.median(innerVariance))
        innerVariance = []
        let intrinsicVariance = max(0, responseSigma * responseSigma - typicalVariance)
        let k = lowSensitivitySigma
        // Each pixel judged on its own: chunks in parallel, the count an integer sum.
        let coldPixels = flags.withUnsafeMutableBufferPointer { flags in
            flat.withUnsafeBufferPointer { flat in
                error.withUnsafeBufferPointer { error in
                    nonisolated(unsafe) let flags = flags, flat = flat, error = error
                    return Self.countingChunks(flags.count) { range in
                        var n = 0
                        for i in range where flags[i] == 0 {
                            let sigma = (intrinsicVariance + Double(error[i]) * Double(error[i])).squareRoot()
                            guard !(Double(flat[i]) >= medianResponse - k * sigma) else { continue }
                            flags[i] |= PixelFlag.lowSensitivity
                            n += 1
                        }
                        return n
                    }
                }
            }
        }
        let coldColumns = Self.coldColumns(flat: flat, flags: flags, width: width, height: height, limit: limit)
        for x in coldColumns { for y in 0..<height { flags[y * width + x] |= PixelFlag.badColumn } }
        if let hotPixels {
            precondition(hotPixels.count == flags.count, "hot-pixel map size differs from the flat")
            // Each pixel on its own: chunks in parallel (the count is unused, 0).
            flags.withUnsafeMutableBufferPointer { flags in
                hotPixels.withUnsafeBufferPointer { hot in
                    nonisolated(unsafe) let flags = flags, hot = hot
                    _ = Self.countingChunks(flags.count) { range in
                        for i in range { flags[i] |= hot[i] & PixelFlag.bad }
                        return 0
                    }
                }
            }
        }
        let lowSensitivity = flags.withUnsafeBufferPointer { flags in
            nonisolated(unsafe) let flags = flags
            return Self.countingChunks(flags.count) { range in
                var n = 0
                for i in range where flags[i] & (PixelFlag.lowSensitivity | PixelFlag.badColumn) != 0 { n += 1 }
                return n
            }
        }

        // 7. QC.
        var innerSum = 0.0, innerN = 0
        var interOrder: [Float] = []
        flags.withUnsafeBufferPointer { flags in
            flat.withUnsafeBufferPointer { flat in
                // Flags 0: measured and good (the old test, flags & ~bad == 0 && flags & bad == 0).
                for i in flags.indices where flags[i] == 0 { innerSum += Double(flat[i]); innerN += 1 }
            }
            // Every 7th pixel, in index order, of those between orders.
            let electrons = Float(gain > 0 ? gain : 1)
            interOrder.reserveCapacity(flags.count / 7 + 1)
            for i in stride(from: 0, to: flags.count, by: 7) where flags[i] & PixelFlag.interOrder != 0 {
                interOrder.append(combined.pixels[i] * electrons)
            }
        }
        // Nearest-rank percentiles; selection gives the same order statistics as sorting, in O(n).
        func percentile(_ p: Double) -> Double {
            guard !interOrder.isEmpty else { return .nan }
            let k = min(interOrder.count - 1, Int(p * Double(interOrder.count)))
            return interOrder.withUnsafeMutableBufferPointer { Double(RobustStatistics.select($0, k)) }
        }
        let metrics = stackMetrics + [
            QCMeasurement("coldPixelCount", Double(coldPixels), unit: "", "inner-order pixels of low sensitivity"),
            QCMeasurement("coldPixelFraction", Double(coldPixels) / Double(max(innerCount, 1)), unit: "",
                          "fraction of inner-order pixels of low sensitivity"),
            QCMeasurement("lowSensitivityCount", Double(lowSensitivity), unit: "px", "pixels flagged low-sensitivity (pixels and whole columns)"),
            QCMeasurement("coldColumnCount", Double(coldColumns.count), unit: "", "columns of low sensitivity"),
            QCMeasurement("innerOrderMean", innerN > 0 ? innerSum / Double(innerN) : .nan, unit: "", "mean normalised inner-order value (good pixels)"),
            QCMeasurement("innerOrderSum", innerSum, unit: "", "sum of normalised inner-order values (good pixels)"),
            QCMeasurement("responseSigma", responseSigma, unit: "", "robust σ of the normalised inner-order response"),
            QCMeasurement("interOrderP10", percentile(0.1), unit: "e-", "10th percentile inter-order flux of the combined flat"),
            QCMeasurement("interOrderP50", percentile(0.5), unit: "e-", "50th percentile inter-order flux of the combined flat"),
            QCMeasurement("interOrderP90", percentile(0.9), unit: "e-", "90th percentile inter-order flux of the combined flat"),
        ] + edgeMetrics + (backgroundFit.map { Self.backgroundMetrics($0, level: keptLevel) } ?? [])
        return Result(flat: Image(width: width, height: height, pixels: flat), error: Image(width: width, height: height, pixels: error),
                      flags: flags, combined: combined, background: backgroundFit?.background, geometry: geometry, edges: edges,
                      lowerResiduals: lowerResiduals, upperResiduals: upperResiduals,
                      rejectedFrames: rejected, levels: levels, metrics: metrics)
    }

    /// Columns whose median response, over their measured pixels (flags 0 or
    /// only low-sensitivity), is below `limit`; a column needs 20 such pixels
    /// to be judged. Columns are gathered 64 at a time row by row (contiguous
    /// reads rather than a stride of a whole row per value), blocks in parallel.
    static func coldColumns(flat: [Float], flags: [UInt8], width: Int, height: Int, limit: Float) -> [Int] {
        let block = 64
        let blocks = (width + block - 1) / block
        var cold = [Bool](repeating: false, count: width)
        flat.withUnsafeBufferPointer { flat in
            flags.withUnsafeBufferPointer { flags in
                cold.withUnsafeMutableBufferPointer { coldOut in
                    nonisolated(unsafe) let flat = flat, flags = flags, coldOut = coldOut
                    RecipeParallelism.concurrentPerform(iterations: blocks) { b in
                        let x0 = b * block, columns = min(block, width - x0)
                        // `pitch` not a power of two, so the columns being filled do not share one cache set.
                        let pitch = height + 16
                        let gathered = UnsafeMutableBufferPointer<Float>.allocate(capacity: columns * pitch)
                        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: columns)
                        counts.initialize(repeating: 0)
                        defer { gathered.deallocate(); counts.deallocate() }
                        for y in 0..<height {
                            let row = y * width + x0
                            for c in 0..<columns where flags[row + c] & ~PixelFlag.lowSensitivity == 0 {
                                gathered[c * pitch + counts[c]] = flat[row + c]
                                counts[c] += 1
                            }
                        }
                        for c in 0..<columns where counts[c] >= 20 {
                            let values = UnsafeMutableBufferPointer(rebasing: gathered[(c * pitch)..<(c * pitch + counts[c])])
                            coldOut[x0 + c] = RobustStatistics.medianInPlace(values) < Double(limit)
                        }
                    }
                }
            }
        }
        return cold.indices.filter { cold[$0] }
    }

    /// Each frame's exposure level in the central band of `window` rows across
    /// the whole width: the median of the pixels brighter than half the band's
    /// 99th percentile (the lit pixels, whatever fraction the orders cover).
    /// A square window at the centre can fall between two orders when they
    /// are far apart in pixels (SIMECH BLUE unbinned: 4 ADU of noise taken for
    /// the level); every order crosses the band.
    static func levels(_ source: any FrameStripSource, window: Int) throws -> [Double] {
        let h = min(window, source.height)
        let y0 = (source.height - h) / 2
        var strip = [Float](repeating: 0, count: h * source.width)
        return try (0..<source.frameCount).map { f in
            try strip.withUnsafeMutableBufferPointer { try source.read(frame: f, rows: y0..<(y0 + h), into: $0) }
            // Every 7th pixel of the band (7 is prime to any order spacing's period in pixels): 117,000 of 819,200 at 4096².
            var values: [Float] = []
            values.reserveCapacity(strip.count / 7 + 1)
            for i in stride(from: 0, to: strip.count, by: 7) where !strip[i].isNaN { values.append(strip[i]) }
            guard !values.isEmpty else { return 0 }
            let p99 = RobustStatistics.percentileInPlace(&values, 99)
            var lit = values.filter { $0 > Float(0.5 * p99) }
            return lit.isEmpty ? 0 : RobustStatistics.medianInPlace(&lit)
        }
    }

    /// Edges of every order in slices every `step` rows.
    func detectEdges(_ image: Image, centres: OrderGeometry, step: Int) -> [EdgeDetection] {
        let width = image.width, height = image.height
        var perOrder = [[EdgeDetection]](repeating: [], count: centres.orders.count)
        perOrder.withUnsafeMutableBufferPointer { out in
            nonisolated(unsafe) let out = out
            RecipeParallelism.concurrentPerform(iterations: centres.orders.count) { k in
                let order = centres.orders[k]
                let range = centres.rowRanges[order] ?? 0...(height - 1)
                var found: [EdgeDetection] = []
                let hasLower = centres.orders.contains(order - 1), hasUpper = centres.orders.contains(order + 1)
                for y in stride(from: max(range.lowerBound, sliceWidth / 2), through: min(range.upperBound, height - 1 - sliceWidth / 2), by: step) {
                    // The neighbours' presence is the same in every slice: looked up once per order, not per slice.
                    guard hasLower || hasUpper else { continue }
                    let c = centres.centre(order: order, y: Double(y))
                    let below = hasLower ? abs(centres.centre(order: order - 1, y: Double(y)) - c) : .infinity
                    let above = hasUpper ? abs(centres.centre(order: order + 1, y: Double(y)) - c) : .infinity
                    let spacing = min(below, above)
                    let half = sliceLength > 0 ? sliceLength / 2 : Int(0.6 * spacing)
                    let ci = Int(c.rounded())
                    let cols = max(0, ci - half)..<min(width, ci + half + 1)
                    guard cols.contains(ci), cols.count > 8 else { continue }
                    let profile = CrossProfile.medianSlice(image, centreRow: y, rows: sliceWidth, columns: cols)
                    let centreIndex = ci - cols.lowerBound
                    var central = (max(0, centreIndex - 2)...min(profile.count - 1, centreIndex + 2)).map { profile[$0] }
                    let flux = RobustStatistics.medianInPlace(&central)
                    guard flux > 0 else { continue }
                    let lower = crossing(profile, from: centreIndex, direction: -1, flux: flux, fraction: edgeThreshold)
                    let upper = crossing(profile, from: centreIndex, direction: 1, flux: flux, fraction: edgeThreshold)
                    if lower == nil && upper == nil { continue }
                    found.append(EdgeDetection(order: order, y: Double(y),
                                               lower: lower.map { $0 + Double(cols.lowerBound) },
                                               upper: upper.map { $0 + Double(cols.lowerBound) }))
                }
                out[k] = found
            }
        }
        return perOrder.flatMap { $0 }
    }

    /// Walking from `start` in `direction`, where the profile first falls below `fraction` × flux
    /// (linear interpolation), provided it never climbs above `maxThreshold` × flux before and
    /// falls to `minThreshold` × flux somewhere after.
    func crossing(_ p: [Float], from start: Int, direction: Int, flux: Double, fraction: Double, requireFloor: Bool = true) -> Double? {
        let target = fraction * flux
        var i = start
        while i + direction >= 0 && i + direction < p.count {
            let next = i + direction
            if Double(p[i]) > maxThreshold * flux { return nil }
            if Double(p[next]) < target {
                var j = next, floor = Double(p[next])
                while j >= 0 && j < p.count { floor = min(floor, Double(p[j])); j += direction }
                guard !requireFloor || floor <= minThreshold * flux else { return nil }
                return Self.interpolatedCrossing(p, inner: i, outer: next, direction: direction, target: target)
            }
            i = next
        }
        return nil
    }

    /// Where the profile between `inner` (≥ target) and `outer` (< target)
    /// equals the target: a cubic through four samples in log flux (an edge's
    /// tail is close to a Gaussian's, nearly linear in log), bisected; linear
    /// when the neighbours are missing or not positive.
    static func interpolatedCrossing(_ p: [Float], inner: Int, outer: Int, direction: Int, target: Double) -> Double {
        let a = Double(p[inner]), b = Double(p[outer])
        let linear = Double(inner) + Double(direction) * (a - target) / (a - b)
        let before = inner - direction, after = outer + direction
        guard before >= 0, before < p.count, after >= 0, after < p.count, target > 0 else { return linear }
        // Four locals, not arrays: this runs for every edge and plateau crossing of every slice.
        let y0 = Double(p[before]), y3 = Double(p[after])
        guard y0 > 0, a > 0, b > 0, y3 > 0 else { return linear }
        let ls0 = log(y0), ls1 = log(a), ls2 = log(b), ls3 = log(y3), lt = log(target)
        // Lagrange cubic on nodes t = −1, 0, 1, 2 (t = 0 at inner, 1 at outer).
        func f(_ t: Double) -> Double {
            let l0 = -t * (t - 1) * (t - 2) / 6, l1 = (t + 1) * (t - 1) * (t - 2) / 2
            let l2 = -(t + 1) * t * (t - 2) / 2, l3 = (t + 1) * t * (t - 1) / 6
            return ls0 * l0 + ls1 * l1 + ls2 * l2 + ls3 * l3
        }
        var lo = 0.0, hi = 1.0
        guard f(lo) >= lt, f(hi) < lt else { return linear }
        for _ in 0..<40 {
            let m = 0.5 * (lo + hi)
            if f(m) >= lt { lo = m } else { hi = m }
        }
        return Double(inner) + Double(direction) * 0.5 * (lo + hi)
    }

    /// How far inside the fitted threshold edges the order's flat plateau begins:
    /// the median distance from the edge to the half-flux point plus
    /// `plateauSigmas` edge widths, σ being the distance between the 50 % and
    /// 15.9 % points (an erf edge's σ, pixel integration included).
    func plateauMargin(_ image: Image, geometry: OrderGeometry, step: Int) -> Double {
        var toHalf: [Float] = [], widths: [Float] = []
        for order in geometry.orders {
            let range = geometry.rowRanges[order] ?? 0...(image.height - 1)
            for y in stride(from: range.lowerBound + sliceWidth / 2, through: range.upperBound - sliceWidth / 2, by: step * 2) {
                guard let (lo, hi) = geometry.edges(order: order, y: Double(y)), lo > 1, hi < Double(image.width - 2) else { continue }
                let cols = Int(lo.rounded(.down))..<(Int(hi.rounded(.up)) + 1)
                let profile = CrossProfile.medianSlice(image, centreRow: y, rows: sliceWidth, columns: cols)
                let ci = Int((geometry.centre(order: order, y: Double(y))).rounded()) - cols.lowerBound
                guard ci > 0, ci < profile.count - 1 else { continue }
                var central = (max(0, ci - 2)...min(profile.count - 1, ci + 2)).map { profile[$0] }
                let flux = RobustStatistics.medianInPlace(&central)
                let offset = Double(cols.lowerBound)
                if let h = crossing(profile, from: ci, direction: -1, flux: flux, fraction: 0.5, requireFloor: false),
                   let s = crossing(profile, from: ci, direction: -1, flux: flux, fraction: 0.1587, requireFloor: false) {
                    toHalf.append(Float(h + offset - lo)); widths.append(Float(h - s))
                }
                if let h = crossing(profile, from: ci, direction: 1, flux: flux, fraction: 0.5, requireFloor: false),
                   let s = crossing(profile, from: ci, direction: 1, flux: flux, fraction: 0.1587, requireFloor: false) {
                    toHalf.append(Float(hi - h - offset)); widths.append(Float(s - h))
                }
            }
        }
        let d = RobustStatistics.median(toHalf), w = RobustStatistics.median(widths)
        return d.isNaN || w.isNaN ? 2 : max(0, d) + plateauSigmas * max(0, w)
    }

    /// Each value replaced by a quadratic fitted to its ±`halfWidth` neighbours
    /// (NaNs left out) and evaluated there: a Savitzky–Golay smoother that,
    /// unlike a running mean, follows the blaze's curvature along an order
    /// without bias (a ±32-row mean is off by 0.75 % where the blaze bends,
    /// measured on SIMECH flats), so the window can be wide enough for the
    /// level's own noise to vanish from the response. NaN in, NaN out; a window
    /// with fewer than 3 values (or a singular fit) gives their mean.
    ///
    /// O(1) per value: the window's moments are differences of running sums
    /// (see `localQuadratic(_:halfWidth:rows:into:)`); within 1e-12 relative of
    /// summing each window directly (measured: see the README, #17).
    static func localQuadratic(_ v: [Double], halfWidth: Int) -> [Double] {
        guard halfWidth > 0 else { return v }
        var out = [Double](repeating: .nan, count: v.count)
        // Every value is its own fit, so the rows are split between the cores.
        let chunks = max(1, min(8, v.count / 256))
        let perChunk = (v.count + chunks - 1) / chunks
        out.withUnsafeMutableBufferPointer { out in
            v.withUnsafeBufferPointer { v in
                nonisolated(unsafe) let out = out, v = v
                RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                    localQuadratic(v, halfWidth: halfWidth, rows: (chunk * perChunk)..<min(v.count, (chunk + 1) * perChunk), into: out)
                }
            }
        }
        return out
    }

    /// Outputs per block of running sums: each block sums its own rows ± `halfWidth`
    /// about its own centre, so the coordinates stay within ±(block/2 + halfWidth).
    private static let runningSumBlock = 128

    /// The fits of `rows`, block by block. In each block the running sums, in Double,
    /// of 1, u, u², u³, u⁴ (u = row − the block's centre, an integer) over the non-NaN
    /// values are exact integers (below 2⁵³ for `halfWidth` ≤ 1000), and so are the
    /// window's moments about the fitted row derived from them binomially; only the
    /// data sums Σv, Σv·u, Σv·u² round, and recentring them on the fitted row loses at
    /// most a factor ((block/2 + halfWidth)/halfWidth)² ≈ 5 (halfWidth 48) to cancellation.
    private static func localQuadratic(_ v: UnsafeBufferPointer<Double>, halfWidth: Int, rows: Range<Int>,
                                       into out: UnsafeMutableBufferPointer<Double>) {
        guard !rows.isEmpty else { return }
        let block = runningSumBlock, n = v.count
        let span = min(n, block + 2 * halfWidth) + 1
        // prefix[8 m + k]: the k-th running sum over the block's first m rows (k: 1, u, u², u³, u⁴, v, v u, v u²).
        let prefix = UnsafeMutableBufferPointer<Double>.allocate(capacity: 8 * span)
        defer { prefix.deallocate() }
        let h1 = Double(halfWidth), h2 = h1 * h1, h3 = h2 * h1, h4 = h2 * h2
        var start = rows.lowerBound
        while start < rows.upperBound {
            let end = min(rows.upperBound, start + block)
            let lo = max(0, start - halfWidth), hi = min(n, end + halfWidth)
            let centre = (start + end - 1) / 2
            var c0 = 0.0, c1 = 0.0, c2 = 0.0, c3 = 0.0, c4 = 0.0, d0 = 0.0, d1 = 0.0, d2 = 0.0
            for k in 0..<8 { prefix[k] = 0 }
            for j in lo..<hi {
                let x = v[j]
                if !x.isNaN {
                    let u = Double(j - centre), u2 = u * u
                    c0 += 1; c1 += u; c2 += u2; c3 += u2 * u; c4 += u2 * u2
                    d0 += x; d1 += x * u; d2 += x * u2
                }
                let m = 8 * (j - lo + 1)
                prefix[m] = c0; prefix[m + 1] = c1; prefix[m + 2] = c2; prefix[m + 3] = c3
                prefix[m + 4] = c4; prefix[m + 5] = d0; prefix[m + 6] = d1; prefix[m + 7] = d2
            }
            for i in start..<end where !v[i].isNaN {
                let a = 8 * (max(0, i - halfWidth) - lo), b = 8 * (min(n - 1, i + halfWidth) - lo + 1)
                let w0 = prefix[b] - prefix[a], w1 = prefix[b + 1] - prefix[a + 1], w2 = prefix[b + 2] - prefix[a + 2]
                let w3 = prefix[b + 3] - prefix[a + 3], w4 = prefix[b + 4] - prefix[a + 4]
                let q0 = prefix[b + 5] - prefix[a + 5], q1 = prefix[b + 6] - prefix[a + 6], q2 = prefix[b + 7] - prefix[a + 7]
                // Moments about row i (j − i = u − e), then in t = (j − i)/halfWidth as the normal equations of a + b t + c t².
                let e = Double(i - centre), e2 = e * e, e3 = e2 * e, e4 = e2 * e2
                let s0 = w0
                let s1 = (w1 - e * w0) / h1
                let s2 = (w2 - 2 * e * w1 + e2 * w0) / h2
                let s3 = (w3 - 3 * e * w2 + 3 * e2 * w1 - e3 * w0) / h3
                let s4 = (w4 - 4 * e * w3 + 6 * e2 * w2 - 4 * e3 * w1 + e4 * w0) / h4
                let r0 = q0, r1 = (q1 - e * q0) / h1, r2 = (q2 - 2 * e * q1 + e2 * q0) / h2
                // a by Cramer's rule; fewer than 3 points, or a singular system: the mean.
                let det = s0 * (s2 * s4 - s3 * s3) - s1 * (s1 * s4 - s3 * s2) + s2 * (s1 * s3 - s2 * s2)
                if s0 >= 3 && abs(det) > 1e-12 * max(1, s0 * s0 * s0) {
                    out[i] = (r0 * (s2 * s4 - s3 * s3) - s1 * (r1 * s4 - s3 * r2) + s2 * (r1 * s3 - s2 * r2)) / det
                } else {
                    out[i] = r0 / s0
                }
            }
            start = end
        }
    }

    /// The measured pixels (flags 0) in index order: their non-NaN flat values and
    /// their error², as a serial loop appends them; chunks counted, then filled, in parallel.
    static func measured(flat: [Float], error: [Float], flags: [UInt8]) -> (values: [Float], variances: [Float]) {
        let n = flags.count, chunk = 1 << 20
        let chunks = max(1, (n + chunk - 1) / chunk)
        let counts = UnsafeMutableBufferPointer<(values: Int, variances: Int)>.allocate(capacity: chunks)
        counts.initialize(repeating: (0, 0))
        defer { counts.deallocate() }
        return flat.withUnsafeBufferPointer { flat in
            error.withUnsafeBufferPointer { error in
                flags.withUnsafeBufferPointer { flags in
                    nonisolated(unsafe) let flat = flat, error = error, flags = flags, counts = counts
                    RecipeParallelism.concurrentPerform(iterations: chunks) { c in
                        var v = 0, e = 0
                        for i in (c * chunk)..<min(n, (c + 1) * chunk) where flags[i] == 0 {
                            if !flat[i].isNaN { v += 1 }
                            e += 1
                        }
                        counts[c] = (v, e)
                    }
                    var valueStart = [Int](repeating: 0, count: chunks), varianceStart = valueStart
                    for c in 1..<max(chunks, 1) where c < chunks {
                        valueStart[c] = valueStart[c - 1] + counts[c - 1].values
                        varianceStart[c] = varianceStart[c - 1] + counts[c - 1].variances
                    }
                    let totalValues = valueStart[chunks - 1] + counts[chunks - 1].values
                    let totalVariances = varianceStart[chunks - 1] + counts[chunks - 1].variances
                    var variances: [Float] = []
                    let values = [Float](unsafeUninitializedCapacity: totalValues) { valuesOut, valuesInitialized in
                        variances = [Float](unsafeUninitializedCapacity: totalVariances) { variancesOut, variancesInitialized in
                            nonisolated(unsafe) let valuesOut = valuesOut, variancesOut = variancesOut
                            let valueStarts = valueStart, varianceStarts = varianceStart
                            RecipeParallelism.concurrentPerform(iterations: chunks) { c in
                                var v = valueStarts[c], e = varianceStarts[c]
                                for i in (c * chunk)..<min(n, (c + 1) * chunk) where flags[i] == 0 {
                                    if !flat[i].isNaN { valuesOut[v] = flat[i]; v += 1 }
                                    variancesOut[e] = error[i] * error[i]; e += 1
                                }
                            }
                            variancesInitialized = totalVariances
                        }
                        valuesInitialized = totalValues
                    }
                    return (values, variances)
                }
            }
        }
    }

    /// `count` copies of `value`, written by both cores (the pages are first touched in parallel).
    static func filled<T: BitwiseCopyable & Sendable>(_ value: T, count: Int) -> [T] {
        [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            let chunk = 1 << 20
            nonisolated(unsafe) let buffer = buffer
            RecipeParallelism.concurrentPerform(iterations: (count + chunk - 1) / chunk) { c in
                let start = c * chunk
                (buffer.baseAddress! + start).initialize(repeating: value, count: min(chunk, count - start))
            }
            initialized = count
        }
    }

    /// The sum of `count(range)` over fixed chunks of 0..<n, run in parallel (an integer sum: order-free).
    static func countingChunks(_ n: Int, _ count: @Sendable (Range<Int>) -> Int) -> Int {
        let chunk = 1 << 20
        let chunks = max(1, (n + chunk - 1) / chunk)
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        nonisolated(unsafe) let out = counts
        RecipeParallelism.concurrentPerform(iterations: chunks) { c in
            out[c] = count((c * chunk)..<min(n, (c + 1) * chunk))
        }
        return counts.reduce(0, +)
    }
}
