import CalibCore
import Foundation

/// The CRV model of a multi-slit mask: both spatial edges of every slit's spectrum traced along
/// the dispersion on a through-slit flat, seeded by the OPT model (where each slit's ends are at
/// λ_ref), one polynomial x(y) per edge.
///
/// From each end's OPT position the edge is followed block by block (`blockRows` rows averaged:
/// an edge moving linearly within a block is measured at the block's middle row), each block's
/// position predicted from the previous two and measured by `EdgeCentroid.edge` within
/// ±`edgeWindow` differences; the walk stops where the step falls below `minimumStepFraction`
/// of the step at λ_ref (the spectrum's end, or the frame's). Each edge is a σ-clipped
/// polynomial of degree `degree` in y. Holes are not traced (their spectra are narrower than two
/// edge windows). A slit whose edges cannot be followed for more than `degree + 2` blocks is
/// reported with its reason rather than failing the mask.
///
/// Units: px of the oriented frame (x spatial, y dispersion), pixel centres at integers.
public struct MultiSlitEdgeTrace: Sendable {
    public static let name = "mosedges"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = ["blockRows", "degree", "edgeWindow", "minimumStepFraction", "clipSigma"]

    public var blockRows: Int
    public var degree: Int
    public var edgeWindow: Int
    public var minimumStepFraction: Double
    public var clipSigma: Double

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        blockRows = Int(try r.value("blockRows", default: 8, in: 1...512))
        degree = Int(try r.value("degree", default: 3, in: 1...9))
        edgeWindow = Int(try r.value("edgeWindow", default: 3, in: 2...20))
        minimumStepFraction = try r.value("minimumStepFraction", default: 0.3, in: 0.01...1)
        clipSigma = try r.value("clipSigma", default: 4, in: 1...20)
    }

    /// One traced edge, x(y) over the rows where it was followed.
    public struct Edge: Sendable {
        public var curve: PolynomialSurface
        public var rms: Double
        public var rows: ClosedRange<Double>
        public var blocks: Int
        public func x(at y: Double) -> Double { curve.evaluate(y, 0) }
    }

    public struct Slit: Sendable {
        public var id: String
        /// Low-x and high-x edges; nil with `failure` set when not traced.
        public var low: Edge?
        public var high: Edge?
        public var failure: String?
    }

    public struct Result: Sendable {
        public var slits: [Slit]
        public var metrics: [QCMeasurement]
    }

    /// Where a slit's two ends fall at λ_ref (detector px), as the OPT model gives them; nil when
    /// the OPT model did not place the slit.
    public struct Seed: Sendable {
        public var id: String
        public var ends: [(x: Double, y: Double)]?
        public init(id: String, ends: [(x: Double, y: Double)]?) { self.id = id; self.ends = ends }
    }

    /// Every slit (not hole) of an OPT model's result, as seeds.
    public static func seeds(_ opt: OpticalModelFinder.Result) -> [Seed] {
        opt.apertures.filter { !$0.isHole }.map {
            Seed(id: $0.id, ends: $0.failure == nil && $0.detectorPoints.count == 2 ? $0.detectorPoints : nil)
        }
    }

    public func run(flat: Image, opt: OpticalModelFinder.Result) -> Result { run(flat: flat, seeds: Self.seeds(opt)) }

    public func run(flat: Image, seeds: [Seed]) -> Result {
        var slits: [Slit] = []
        for seed in seeds {
            guard let detectorEnds = seed.ends, detectorEnds.count == 2 else {
                slits.append(Slit(id: seed.id, failure: "\(seed.id): not placed by the OPT model"))
                continue
            }
            let ends = detectorEnds.sorted { $0.x < $1.x }
            var slit = Slit(id: seed.id)
            do {
                slit.low = try trace(flat, from: ends[0], rising: true)
                slit.high = try trace(flat, from: ends[1], rising: false)
            } catch {
                slit.failure = "\(seed.id): \(error.description)"
            }
            slits.append(slit)
        }
        let traced = slits.filter { $0.failure == nil }
        let rms = traced.flatMap { [$0.low!.rms, $0.high!.rms] }
        let metrics = [
            QCMeasurement("slitsTraced", Double(traced.count), unit: "", "slits with both edges traced"),
            QCMeasurement("slitsExpected", Double(slits.count), unit: "", "slits placed by the OPT model or not"),
            QCMeasurement("edgeFitRMS", rms.max() ?? .nan, unit: "px", "largest RMS of an edge about its polynomial"),
        ]
        return Result(slits: slits, metrics: metrics)
    }

    struct Failure: Error, CustomStringConvertible { let description: String }

    /// One edge followed up and down from `start`.
    func trace(_ flat: Image, from start: (x: Double, y: Double), rising: Bool) throws(Failure) -> Edge {
        func measure(block first: Int, near x: Double, minimumStep: Double) -> (y: Double, x: Double)? {
            guard first >= 0, first + blockRows <= flat.height else { return nil }
            var profile = [Double](repeating: 0, count: flat.width)
            for r in first..<(first + blockRows) { for c in 0..<flat.width { profile[c] += Double(flat[c, r]) } }
            profile = profile.map { $0 / Double(blockRows) }
            guard let e = EdgeCentroid.edge(in: profile, near: x, rising: rising, window: edgeWindow, minimumStep: minimumStep) else { return nil }
            return (Double(first) + Double(blockRows - 1) / 2, e)
        }
        let firstBlock = Int((start.y - Double(blockRows - 1) / 2).rounded())
        // The step at λ_ref sets the level below which the spectrum is over.
        guard let seed = measure(block: firstBlock, near: start.x, minimumStep: 0) else {
            throw Failure(description: "no edge at the OPT position (\(start.x), \(start.y))")
        }
        let profile = EdgeCentroid.rowProfile(flat, row: Int(start.y.rounded()), halfRows: blockRows / 2)
        let inside = profile[min(max(0, Int((start.x + (rising ? 3 : -3)).rounded())), profile.count - 1)]
        let minimumStep = minimumStepFraction * inside
        var points = [seed]
        for direction in [1, -1] {
            var recent = [seed]
            var block = firstBlock + direction * blockRows
            while true {
                let guess = recent.count >= 2
                    ? recent[recent.count - 1].x + (recent[recent.count - 1].x - recent[recent.count - 2].x) : recent[0].x
                guard let found = measure(block: block, near: guess, minimumStep: minimumStep) else { break }
                points.append(found); recent.append(found)
                block += direction * blockRows
            }
        }
        guard points.count > degree + 2 else {
            throw Failure(description: "edge followed over only \(points.count) blocks of \(blockRows) rows")
        }
        do {
            let fit = try PolynomialSurfaceFit(degrees: [degree, 0], clipSigma: clipSigma, maxIterations: 10)
                .fit(points: points.map { [$0.y, 0] }, values: points.map(\.x))
            let ys = points.map(\.y)
            return Edge(curve: fit.surface, rms: fit.rms, rows: ys.min()!...ys.max()!, blocks: points.count)
        } catch {
            throw Failure(description: "edge fit failed: \(error)")
        }
    }
}
