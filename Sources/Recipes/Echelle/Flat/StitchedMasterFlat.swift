import CalibCore
import Dispatch
import Foundation

/// Master flat of an arm lit by two continuum lamps (the reference's
/// soxs_mflat for the UVB arm: a D2 lamp for the blue orders, a QTH lamp for
/// the red ones): one master per lamp, made by `MasterFlat`'s own steps
/// (`combine` then `normalise`) over that lamp's orders; the blue lamp's
/// stack scaled to the red lamp's by their flux ratio in the stitch order;
/// the two stacks joined along the inter-order gap between the stitch order
/// and the next bluer order; and the stitched stack normalised again, which
/// re-derives the order edges and the ORDERS table from it.
///
/// Orders: the physical order numbers grow toward the blue (m λ = const), so
/// orders above `stitchOrder` come from the blue lamp, the stitch order and
/// those below it from the red lamp. The blue lamp's master is traced over
/// its own orders and the stitch order (where the ratio is measured), the red
/// lamp's over the stitch order and below.
///
/// Scale: per row of the stitch order, red ÷ blue of the combined stacks
/// (ADU of a typical frame of each lamp) summed across the order between its
/// traced edges; the factor is the median of those row ratios. Both lamps
/// fill the same slit, so the cross profile and the pixel response are
/// common to both sums and cancel; a hot pixel's dark current is negligible
/// against the lamps. Every row of the order counts (no plateau margin or
/// bad-pixel mask that could leave out runs of rows: the ratio varies along
/// the order, as the lamps' colours differ, so a missing run would move the
/// median). Photon noise is averaged over ~10⁴ pixels at 1024². With
/// `scaleBlueToRed` 0 the factor is measured and recorded but not applied
/// (SOXSPIPE's "scale d2 to qth lamp flats when stitching").
///
/// The normalised flat does not depend on the factor (each order is divided
/// by its own illumination); the stitched stack, its inter-order statistics
/// and anything reading the stack's continuity across the stitch do.
public struct StitchedMasterFlat: Sendable {
    /// Parameters this layer reads; the rest go to `MasterFlat`.
    public static let parameterNames: Set<String> = [LampStitch.orderParameter, "scaleBlueToRed"]

    public var master: MasterFlat
    /// The stitch order (physical number): measured in both lamps; its own pixels come from the red lamp.
    public var stitchOrder: Int
    /// Whether the blue lamp's stack is multiplied by the measured factor.
    public var scaleBlueToRed: Bool

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        master = try MasterFlat(parameters: Self.masterParameters(parameters))
        let r = try ParameterReader(recipe: MasterFlat.name, values: parameters.filter { Self.parameterNames.contains($0.key) },
                                    known: Self.parameterNames)
        guard parameters[LampStitch.orderParameter] != nil else {
            throw RecipeParameterError(recipe: MasterFlat.name, parameter: LampStitch.orderParameter,
                                       message: "stitching two lamps needs the order where they meet")
        }
        stitchOrder = Int(try r.value(LampStitch.orderParameter, default: 0, in: 1...1000))
        scaleBlueToRed = try r.value("scaleBlueToRed", default: 1, in: 0...1) != 0
    }

    /// The parameters `MasterFlat` reads (this layer's own left out).
    public static func masterParameters(_ parameters: [String: Double]) -> [String: Double] {
        parameters.filter { !parameterNames.contains($0.key) }
    }

    /// One lamp's own master, kept for its product extensions and QC plot
    /// (its stack is released once stitched). Its flags carry only where its
    /// orders' plateaus, edges and gaps lie, and its metrics are those of its
    /// stack and edges: bad pixels and the response are judged once, on the
    /// stitched master (`MasterFlat.normalise(…, assessBadPixels: false)`).
    public struct LampMaster: Sendable {
        public var lamp: String
        public var flat: Image
        public var flags: [UInt8]
        public var geometry: OrderGeometry
        public var edges: [MasterFlat.EdgeDetection]
        public var lowerResiduals: [(order: Int, y: Double, residual: Double)]
        public var upperResiduals: [(order: Int, y: Double, residual: Double)]
        public var rejectedFrames: [(index: Int, reason: String)]
        public var metrics: [QCMeasurement]

        init(lamp: String, _ r: MasterFlat.Result) {
            self.lamp = lamp; flat = r.flat; flags = r.flags; geometry = r.geometry; edges = r.edges
            lowerResiduals = r.lowerResiduals; upperResiduals = r.upperResiduals
            rejectedFrames = r.rejectedFrames; metrics = r.metrics
        }

        /// The per-lamp result in the shape `MasterFlat.Result` has, for plots that take one.
        public var asResult: MasterFlat.Result {
            MasterFlat.Result(flat: flat, error: Image(width: 0, height: 0), flags: flags, combined: Image(width: 0, height: 0),
                              geometry: geometry, edges: edges, lowerResiduals: lowerResiduals, upperResiduals: upperResiduals,
                              rejectedFrames: rejectedFrames, levels: [], metrics: metrics)
        }
    }

    public struct Result: Sendable {
        /// The stitched master: flat, error, flags, stitched stack (red-lamp ADU), re-derived edges and QC.
        public var stitched: MasterFlat.Result
        public var blue: LampMaster
        public var red: LampMaster
        /// Measured red ÷ blue flux ratio in the stitch order.
        public var scale: Double
        /// Robust σ of the per-row ratios divided by the factor (how constant the ratio is along the order).
        public var scaleScatter: Double
        /// Rows of the stitch order whose ratio entered the factor.
        public var scaleRows: [Int]
        /// The factor the blue stack was multiplied by (the measured one, or 1 when scaling is off).
        public var appliedScale: Double
        public var stitchOrder: Int
        /// Orders taken from each lamp.
        public var blueOrders: [Int]
        public var redOrders: [Int]
        /// Per row, the column of the stitch: the middle of the gap between the stitch order's edge
        /// (red master) and the next order's facing edge (blue master). Pixels beyond it, on the
        /// blue order's side, come from the blue lamp.
        public var boundary: [Double]
        /// Whether the blue orders lie toward high x (the side taken from the blue lamp).
        public var blueTowardHighX: Bool
    }

    public enum Failure: Error, CustomStringConvertible, PermanentRecipeFailure {
        case stitchOrder(String)
        case scale(String)
        public var description: String {
            switch self {
            case .stitchOrder(let s): "master flat stitch order: \(s)"
            case .scale(let s): "master flat stitch scale: \(s)"
            }
        }
    }

    /// - Parameters:
    ///   - blue, red: each lamp's flats, bias-subtracted, light-sensitive area only; exposure times in seconds.
    ///   - lamps: the lamps' labels (for the per-lamp masters).
    ///   - centres: the order-centre trace; gain e⁻/ADU; readNoise ADU; hotPixels as in `MasterFlat.run`.
    /// Rejected frames of the stitched result are indexed over the blue frames followed by the red ones.
    public func run(blue: CorrectedFrames, blueExposureTimes: [Double], red: CorrectedFrames, redExposureTimes: [Double],
                    lamps: LampStitch, centres: OrderGeometry, gain: Double, readNoise: Double,
                    hotPixels: [UInt8]? = nil) throws -> Result {
        guard centres.orders.contains(stitchOrder), centres.orders.contains(stitchOrder + 1) else {
            throw Failure.stitchOrder("order \(stitchOrder) and the next bluer order \(stitchOrder + 1) must both be traced "
                                      + "(traced: \(centres.orders.first.map(String.init) ?? "none")…\(centres.orders.last.map(String.init) ?? ""))")
        }
        let blueOrders = centres.orders.filter { $0 > stitchOrder }, redOrders = centres.orders.filter { $0 <= stitchOrder }
        // Each lamp traced over its orders and the stitch order, without the background fit: a per-lamp
        // trace masks only its own orders and would take the other lamp's for background. The
        // stitched stack's background is fitted once, in its own normalisation below.
        var perLamp = master
        perLamp.background = nil
        let blueCombination = try master.combine(blue, exposureTimes: blueExposureTimes, gain: gain, readNoise: readNoise)
        // Per lamp only the edges and the normalised flat are kept (its FLAT_ and ORDERS_ extensions):
        // its pixels' errors, low-sensitivity and hot pixels, and its response statistics were computed
        // and dropped, the stitched normalisation below judging them once on the stack actually used.
        var blueResult = try perLamp.normalise(blueCombination, centres: Self.restricted(centres, to: [stitchOrder] + blueOrders),
                                              gain: gain, readNoise: readNoise, assessBadPixels: false)
        let blueMaster = LampMaster(lamp: lamps.blue, blueResult)
        blueResult.error = Image(width: 0, height: 0)  // a full frame not needed again
        let blueStack = blueCombination.combined
        var redCombination = try master.combine(red, exposureTimes: redExposureTimes, gain: gain, readNoise: readNoise)
        var redResult = try perLamp.normalise(redCombination, centres: Self.restricted(centres, to: redOrders),
                                             gain: gain, readNoise: readNoise, assessBadPixels: false)
        let redMaster = LampMaster(lamp: lamps.red, redResult)

        // The factor, in the stitch order.
        let (scale, scatter, scaleRows) = try Self.ratio(order: stitchOrder, red: redResult, blue: blueResult, blueStack: blueStack,
                                                         readNoise: readNoise)
        let applied = scaleBlueToRed ? scale : 1
        // Only the stacks are needed from here on; free the per-lamp errors and the red stack's
        // other references so it can be overwritten in place (each is a full frame).
        blueResult.combined = Image(width: 0, height: 0)
        redResult.error = Image(width: 0, height: 0); redResult.combined = Image(width: 0, height: 0)

        // The boundary and the stitched stack (in place in the red stack).
        let width = blueStack.width, height = blueStack.height
        let middleRow = Double(height / 2)
        let towardHighX = centres.centre(order: stitchOrder + 1, y: middleRow) > centres.centre(order: stitchOrder, y: middleRow)
        var boundary = [Double](repeating: 0, count: height)
        for y in 0..<height {
            let r = redResult.geometry.edges(order: stitchOrder, y: Double(y))!
            let b = blueResult.geometry.edges(order: stitchOrder + 1, y: Double(y))!
            boundary[y] = towardHighX ? 0.5 * (r.upper + b.lower) : 0.5 * (r.lower + b.upper)
        }
        var stack = redCombination.combined
        redCombination.combined = Image(width: 0, height: 0)
        let factor = Float(applied)
        // A copy of about half a frame: serial, it is memory-bound.
        stack.pixels.withUnsafeMutableBufferPointer { out in
            blueStack.pixels.withUnsafeBufferPointer { b in
                for y in 0..<height {
                    // Whole pixels on the blue side of the boundary (a pixel's centre past it).
                    let first = towardHighX ? max(0, Int(boundary[y].rounded(.down)) + 1) : 0
                    let last = towardHighX ? width - 1 : min(width - 1, Int(boundary[y].rounded(.up)) - 1)
                    guard first <= last else { continue }
                    for x in first...last { out[y * width + x] = b[y * width + x] * factor }
                }
            }
        }

        // The stitched master: edges re-derived over all orders, normalised; errors per lamp.
        let nBlue = blueCombination.kept.count, nRed = redCombination.kept.count
        let offset = blueCombination.levels.count
        let combination = MasterFlat.Combination(
            combined: stack, levels: blueCombination.levels + redCombination.levels,
            rejected: blueCombination.rejected + redCombination.rejected.map { (index: $0.index + offset, reason: $0.reason) },
            kept: redCombination.kept.map { $0 + offset }, keptLevel: redCombination.keptLevel,
            clippedValues: redCombination.clippedValues)
        var stitched = try master.normalise(combination, centres: centres, gain: gain, readNoise: readNoise, hotPixels: hotPixels)
        Self.correctBlueErrors(&stitched, boundary: boundary, towardHighX: towardHighX, factor: factor, frames: nBlue,
                               gain: gain, readNoise: readNoise)
        let clippedFraction = Double(blueCombination.clippedValues + redCombination.clippedValues)
            / Double((nBlue + nRed) * width * height)
        stitched.metrics = stitched.metrics.map { m in
            m.name == "stackRejectedFraction" ? QCMeasurement(m.name, clippedFraction, unit: m.unit, m.summary) : m
        }
        func metric(_ r: MasterFlat.Result, _ name: String) -> Double { r.metrics.first { $0.name == name }?.value ?? .nan }
        stitched.metrics += [
            QCMeasurement("stitchOrder", Double(stitchOrder), unit: "", "order whose flux ratio scales the \(lamps.blue) to the \(lamps.red) lamp; orders above it from \(lamps.blue)"),
            QCMeasurement("stitchScale", scale, unit: "", "measured \(lamps.red) ÷ \(lamps.blue) flux ratio in the stitch order"),
            QCMeasurement("stitchScaleApplied", applied, unit: "", "factor the \(lamps.blue) stack was multiplied by (1: scaling off)"),
            QCMeasurement("stitchScaleScatter", scatter, unit: "", "robust σ of the per-row ratios ÷ the factor"),
            QCMeasurement("stitchScaleRows", Double(scaleRows.count), unit: "", "rows of the stitch order whose ratio entered the factor"),
            QCMeasurement("blueLampFrames", Double(nBlue), unit: "", "\(lamps.blue) flats stacked"),
            QCMeasurement("redLampFrames", Double(nRed), unit: "", "\(lamps.red) flats stacked"),
            QCMeasurement("blueLampOrderCount", Double(blueOrders.count), unit: "", "orders taken from the \(lamps.blue) master"),
            QCMeasurement("redLampOrderCount", Double(redOrders.count), unit: "", "orders taken from the \(lamps.red) master"),
            QCMeasurement("blueLampEdgeResidualSD", metric(blueResult, "edgeResidualSD"), unit: "px", "edge fit residual σ of the \(lamps.blue) master"),
            QCMeasurement("redLampEdgeResidualSD", metric(redResult, "edgeResidualSD"), unit: "px", "edge fit residual σ of the \(lamps.red) master"),
        ]
        return Result(stitched: stitched, blue: blueMaster, red: redMaster, scale: scale, scaleScatter: scatter, scaleRows: scaleRows, appliedScale: applied,
                      stitchOrder: stitchOrder, blueOrders: blueOrders, redOrders: redOrders, boundary: boundary,
                      blueTowardHighX: towardHighX)
    }

    /// The trace with only `orders` (the same polynomials).
    static func restricted(_ geometry: OrderGeometry, to orders: [Int]) -> OrderGeometry {
        let kept = geometry.orders.filter { orders.contains($0) }
        return OrderGeometry(orders: kept, rowRanges: geometry.rowRanges.filter { kept.contains($0.key) }, centre: geometry.centre,
                             lowerEdge: geometry.lowerEdge, upperEdge: geometry.upperEdge)
    }

    /// Red ÷ blue in the stitch order: per row, the ratio of the two stacks summed across the order
    /// between the red master's traced edges (both lamps fill the same slit, so the cross profile,
    /// pixel response included, is common and cancels); rows where a sum is not 20 read-noise σ
    /// above zero, or the order leaves the detector, are skipped. The factor is the median over rows,
    /// with the robust σ of the row ratios relative to it.
    static func ratio(order: Int, red: MasterFlat.Result, blue: MasterFlat.Result, blueStack: Image,
                      readNoise: Double) throws -> (Double, Double, [Int]) {
        let width = blueStack.width, height = blueStack.height
        guard let redRange = red.geometry.rowRanges[order], let blueRange = blue.geometry.rowRanges[order] else {
            throw Failure.scale("order \(order) has no traced rows")
        }
        var rows: [Float] = [], used: [Int] = []
        let first = max(0, redRange.lowerBound, blueRange.lowerBound), last = min(height - 1, redRange.upperBound, blueRange.upperBound)
        for y in stride(from: first, through: last, by: 1) {
            guard let (lo, hi) = red.geometry.edges(order: order, y: Double(y)) else { continue }
            let a = Int(lo.rounded(.up)), b = Int(hi.rounded(.down))
            guard a >= 0, b < width, b >= a else { continue }
            var r = 0.0, d = 0.0
            for x in a...b { r += Double(red.combined.pixels[y * width + x]); d += Double(blueStack.pixels[y * width + x]) }
            let floor = 20 * readNoise * Double(b - a + 1).squareRoot()
            guard r > floor, d > floor else { continue }
            rows.append(Float(r / d)); used.append(y)
        }
        guard rows.count >= 10 else {
            throw Failure.scale("only \(rows.count) rows of order \(order) are lit by both lamps; choose an order both lamps light")
        }
        let (median, sigma) = RobustStatistics.madSigma(rows)
        guard median > 0, median.isFinite else { throw Failure.scale("ratio \(median) in order \(order)") }
        return (median, sigma / median, used)
    }

    /// The stitched normalisation computes errors as if every pixel came from the red lamp's frames;
    /// on the blue side the stack is the blue lamp's frames × factor: σ = √(v/g + rn²)/√n relative
    /// to v = stack ÷ factor, times the normalised value.
    static func correctBlueErrors(_ r: inout MasterFlat.Result, boundary: [Double], towardHighX: Bool, factor: Float, frames: Int,
                                  gain: Double, readNoise: Double) {
        let width = r.flat.width, height = r.flat.height
        let g = Float(gain > 0 ? gain : 1), rn2 = Float(readNoise * readNoise), n = Float(max(frames, 1)).squareRoot()
        // Each pixel on its own: rows split between the cores.
        let chunks = max(1, min(32, height / 64)), rowsPerChunk = (height + chunks - 1) / chunks
        r.error.pixels.withUnsafeMutableBufferPointer { error in
            r.combined.pixels.withUnsafeBufferPointer { combined in
                r.flat.pixels.withUnsafeBufferPointer { flat in
                    boundary.withUnsafeBufferPointer { boundary in
                        nonisolated(unsafe) let error = error, combined = combined, flat = flat, boundary = boundary
                        RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                            for y in (chunk * rowsPerChunk)..<min(height, (chunk + 1) * rowsPerChunk) {
                                let first = towardHighX ? max(0, Int(boundary[y].rounded(.down)) + 1) : 0
                                let last = towardHighX ? width - 1 : min(width - 1, Int(boundary[y].rounded(.up)) - 1)
                                guard first <= last else { continue }
                                for x in first...last {
                                    let i = y * width + x
                                    guard error[i] > 0 else { continue }
                                    let v = combined[i] / factor
                                    guard v > 0 else { continue }
                                    error[i] = (v / g + rn2).squareRoot() / n * flat[i] / v
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
