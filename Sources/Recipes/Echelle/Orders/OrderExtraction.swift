import CalibCore
import Dispatch

/// Box extraction of every order of a calibrated 2D frame into an
/// orders × pixels (E2DS) array: at each row y, the sum across the order
/// between its traced lower and upper edges.
///
/// - Window: the traced edges widened on each side by `edgeMarginFraction` ×
///   the order's width at that row, so that the PSF wings outside edges traced
///   at some fraction of the peak are collected (for a top-hat slit image
///   blurred by a Gaussian of σ, a margin of 3σ leaves < 10⁻³ σ of flux per
///   edge outside; σ/width is fixed by the optics, so a fraction of the width
///   works at every binning). Pixels cut by the window count with the covered
///   fraction of their width, so the sum is continuous in the edge positions.
/// - Bad pixels (NaN in the image, or true in the mask) are *replaced by a
///   profile-weighted estimate*: the pixel's share of the good pixels' flux in
///   the nearest rows (±`profileHalfRows`) where it and those pixels are good,
///   times this row's good flux. The cross-order profile of a flat, arc or
///   slit spectrum changes slowly along the order, so one cold pixel or a
///   cosmic-ray hit need not cost a whole row of every later spectrum. Where
///   the pixel is bad in every nearby row (a bad column running along the
///   order), the estimate is the linear interpolation between its good
///   neighbours in the same row (runs of at most 2 pixels).
/// - A row is *flagged* (NaN in the output) instead when no estimate is
///   possible, when the replaced pixels would carry more than
///   `maxReplacedFraction` of the row's flux (e.g. a saturated plateau — the
///   estimate would then be mostly guesswork). Rows whose window leaves the
///   detector are NaN too (part of the order is not recorded) but counted
///   apart, as `offDetectorRows`: that is geometry, not a defect.
///
/// Units are those of the image (ADU); rows outside an order's traced row
/// range are NaN.
public struct OrderExtraction: Sendable {
    public var edgeMarginFraction: Double
    public var profileHalfRows: Int
    public var maxReplacedFraction: Double

    public init(edgeMarginFraction: Double = 0.15, profileHalfRows: Int = 4, maxReplacedFraction: Double = 0.25) {
        self.edgeMarginFraction = edgeMarginFraction; self.profileHalfRows = profileHalfRows
        self.maxReplacedFraction = maxReplacedFraction
    }

    public struct Result: Sendable {
        /// Physical order numbers, one per row of `spectra`.
        public var orders: [Int]
        /// orders.count rows × image.height pixels (x of the E2DS = detector row y).
        public var spectra: Image
        /// Per order: rows set to NaN for the reasons above (rows outside the trace excluded).
        public var flaggedRows: [Int]
        /// Per order: bad pixels replaced by their profile estimate.
        public var replacedPixels: [Int]
        /// Per order: rows of the traced range whose window leaves the detector.
        public var offDetectorRows: [Int]
    }

    public enum Failure: Error, CustomStringConvertible, Sendable {
        case noEdges
        case maskShape(expected: Int, got: Int)

        public var description: String {
            switch self {
            case .noEdges: "the order geometry has no traced edges (an ORDER_CENTRES table without edges cannot be extracted across the order; use the MFLAT's)"
            case .maskShape(let e, let g): "bad-pixel mask has \(g) pixels, the image \(e)"
            }
        }
    }

    public func extract(_ image: Image, badPixels: [Bool]? = nil, geometry: OrderGeometry) throws(Failure) -> Result {
        guard geometry.lowerEdge != nil, geometry.upperEdge != nil else { throw .noEdges }
        if let badPixels, badPixels.count != image.pixels.count { throw .maskShape(expected: image.pixels.count, got: badPixels.count) }
        let orders = geometry.orders
        let length = image.height
        var spectra = [Float](repeating: .nan, count: orders.count * length)
        var flagged = [Int](repeating: 0, count: orders.count)
        var replaced = [Int](repeating: 0, count: orders.count)
        var offDetector = [Int](repeating: 0, count: orders.count)
        image.pixels.withUnsafeBufferPointer { pixels in
            let mask = badPixels ?? []
            mask.withUnsafeBufferPointer { maskBuffer in
                spectra.withUnsafeMutableBufferPointer { out in
                    flagged.withUnsafeMutableBufferPointer { flaggedOut in
                        replaced.withUnsafeMutableBufferPointer { replacedOut in
                          offDetector.withUnsafeMutableBufferPointer { offOut in
                            nonisolated(unsafe) let out = out, flaggedOut = flaggedOut, replacedOut = replacedOut, offOut = offOut
                            let view = PixelView(pixels: pixels, mask: maskBuffer.isEmpty ? nil : maskBuffer,
                                                 width: image.width, height: image.height)
                            RecipeParallelism.concurrentPerform(iterations: orders.count) { k in
                                let counts = extractOrder(orders[k], geometry: geometry, view: view,
                                                          into: UnsafeMutableBufferPointer(rebasing: out[(k * length)..<((k + 1) * length)]))
                                flaggedOut[k] = counts.flagged
                                replacedOut[k] = counts.replaced
                                offOut[k] = counts.offDetector
                            }
                          }
                        }
                    }
                }
            }
        }
        return Result(orders: orders, spectra: Image(width: length, height: orders.count, pixels: spectra),
                      flaggedRows: flagged, replacedPixels: replaced, offDetectorRows: offDetector)
    }

    /// Read-only pixel access shared by the order workers.
    struct PixelView: @unchecked Sendable {
        let pixels: UnsafeBufferPointer<Float>
        let mask: UnsafeBufferPointer<Bool>?
        let width: Int
        let height: Int

        @inline(__always) func isGood(_ x: Int, _ y: Int) -> Bool {
            let i = y * width + x
            return pixels[i].isFinite && !(mask?[i] ?? false)
        }
        @inline(__always) func value(_ x: Int, _ y: Int) -> Double { Double(pixels[y * width + x]) }
    }

    /// The pixels of one row's window: the first column, each column's
    /// covered fraction (0…1), and whether the window lies on the detector.
    public struct Window: Sendable {
        public var first: Int
        public var weights: [Double]
        public var inside: Bool
    }

    /// The extraction window of `order` at row `y`.
    public func window(order: Int, y: Int, geometry: OrderGeometry, width: Int) -> Window {
        let (lower, upper) = geometry.edges(order: order, y: Double(y))!
        let lo = min(lower, upper), hi = max(lower, upper)
        let margin = edgeMarginFraction * (hi - lo)
        let a = lo - margin, b = hi + margin
        let first = Int((a + 0.5).rounded(.down)), last = Int((b + 0.5).rounded(.down))
        var weights: [Double] = []
        weights.reserveCapacity(last - first + 1)
        if first <= last {
            for x in first...last {
                weights.append(max(0, min(Double(x) + 0.5, b) - max(Double(x) - 0.5, a)))
            }
        }
        return Window(first: first, weights: weights, inside: first >= 0 && last < width && first <= last)
    }

    private func extractOrder(_ order: Int, geometry: OrderGeometry, view: PixelView,
                              into out: UnsafeMutableBufferPointer<Float>) -> (flagged: Int, replaced: Int, offDetector: Int) {
        guard let range = geometry.rowRanges[order] else { return (0, 0, 0) }
        let rows = max(range.lowerBound, 0)...min(range.upperBound, view.height - 1)
        guard rows.lowerBound <= rows.upperBound else { return (0, 0, 0) }
        var flagged = 0, replaced = 0, offDetector = 0
        for y in rows {
            let w = window(order: order, y: y, geometry: geometry, width: view.width)
            guard w.inside else { offDetector += 1; continue }
            var goodSum = 0.0
            var bad: [Int] = []
            for (i, weight) in w.weights.enumerated() where weight > 0 {
                let x = w.first + i
                if view.isGood(x, y) { goodSum += weight * view.value(x, y) } else { bad.append(i) }
            }
            if bad.isEmpty { out[y] = Float(goodSum); continue }
            guard let estimates = estimate(bad: bad, window: w, y: y, rows: rows, goodSum: goodSum, view: view) else {
                flagged += 1; continue
            }
            var replacedSum = 0.0
            for (j, i) in bad.enumerated() { replacedSum += w.weights[i] * estimates[j] }
            let total = goodSum + replacedSum
            guard total != 0, abs(replacedSum / total) <= maxReplacedFraction else { flagged += 1; continue }
            out[y] = Float(total)
            replaced += bad.count
        }
        return (flagged, replaced, offDetector)
    }

    /// Values for the bad pixels (indices into the window) of row y, or nil when one cannot be estimated.
    private func estimate(bad: [Int], window w: Window, y: Int, rows: ClosedRange<Int>, goodSum: Double,
                          view: PixelView) -> [Double]? {
        let badSet = Set(bad)
        var result: [Double] = []
        for i in bad {
            let x = w.first + i
            // The pixel's share of the good pixels' flux in nearby rows, nearest rows first.
            var ratios: [Double] = []
            for distance in 1...max(profileHalfRows, 1) {
                for yy in [y - distance, y + distance] where rows.contains(yy) && view.isGood(x, yy) {
                    var reference = 0.0
                    var complete = true
                    for (j, weight) in w.weights.enumerated() where weight > 0 && !badSet.contains(j) {
                        let xx = w.first + j
                        guard view.isGood(xx, yy) else { complete = false; break }
                        reference += weight * view.value(xx, yy)
                    }
                    if complete && reference != 0 { ratios.append(view.value(x, yy) / reference) }
                }
            }
            if !ratios.isEmpty {
                ratios.sort()
                let m = ratios.count
                let ratio = m % 2 == 1 ? ratios[m / 2] : 0.5 * (ratios[m / 2 - 1] + ratios[m / 2])
                result.append(ratio * goodSum)
                continue
            }
            // A bad column along the order: interpolate between good neighbours of this row.
            var left = i - 1, right = i + 1
            while left >= 0 && badSet.contains(left) { left -= 1 }
            while right < w.weights.count && badSet.contains(right) { right += 1 }
            guard left >= 0, right < w.weights.count, right - left - 1 <= 2 else { return nil }
            let vl = view.value(w.first + left, y), vr = view.value(w.first + right, y)
            result.append(vl + (vr - vl) * Double(i - left) / Double(right - left))
        }
        return result
    }
}
