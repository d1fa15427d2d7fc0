import CalibCore
import Foundation

/// Long-slit edges from a through-slit flat: the boundary of the illuminated slit traced
/// along the dispersion direction, one smooth curve x(y) per edge (the CRV model's edges).
///
/// Frames are in calibd's orientation (x = spatial, along the slit; y = dispersion).
/// The flat is cut into blocks of `blockRows` rows; each block's median spatial profile
/// gives its in-slit level (median of the central half of the above-threshold run) and
/// the two positions where the profile crosses `edgeFraction` of that level, linearly
/// interpolated between pixels (the half-level crossing is the optical edge of a
/// top-hat blurred by a symmetric PSF). The crossings at `illuminatedFraction` give the
/// fully illuminated part of the slit, as PypeIt's flat-field tweak of its slit edges
/// (`tweak_slits_thresh`, 0.93 by default) does. Each edge is then a polynomial in y of
/// degree `degree`, fitted with σ-clipping (`PolynomialSurfaceFit`).
///
/// Units: pixels of the oriented frame, pixel centres at integers. Blocks whose level is
/// below `minimumLevel` ADU are left out of the fit (counted in `blocksUsed`). A slit longer
/// than the frame is cut by the frame's border: that edge is the border (−0.5 or width − 0.5),
/// counted in `edgesAtBorder`. NaN pixels are ignored by the
/// medians.
public struct SlitEdgeTrace: Sendable {
    public static let name = "slitedges"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "blockRows", "edgeFraction", "illuminatedFraction", "degree", "clipSigma", "minimumLevel", "firstRow", "lastRow",
        "maxSaturatedFraction", "normaliseFrames",
    ]

    public var blockRows: Int
    public var edgeFraction: Double
    public var illuminatedFraction: Double
    public var degree: Int
    public var clipSigma: Double
    public var minimumLevel: Double
    /// Rows of the frame holding light (0-based, inclusive); −1 for the last row. Rows
    /// outside (e.g. overscan turned into rows) are not traced.
    public var firstRow: Int
    public var lastRow: Int
    /// Which flats are combined (see `FlatFrameScreen`).
    public var screen: FlatFrameScreen

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let reader = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        blockRows = Int(try reader.value("blockRows", default: 32, in: 1...1024))
        edgeFraction = try reader.value("edgeFraction", default: 0.5, in: 0.05...0.95)
        illuminatedFraction = try reader.value("illuminatedFraction", default: 0.93, in: 0.05...0.99)
        degree = Int(try reader.value("degree", default: 3, in: 0...9))
        clipSigma = try reader.value("clipSigma", default: 3, in: 1...20)
        minimumLevel = try reader.value("minimumLevel", default: 100, in: 0...1e9)
        firstRow = Int(try reader.value("firstRow", default: 0, in: 0...1e6))
        lastRow = Int(try reader.value("lastRow", default: -1, in: -1...1e6))
        screen = FlatFrameScreen(maxSaturatedFraction: try reader.value("maxSaturatedFraction", default: 0.001, in: 0...1),
                                 normalise: try reader.value("normaliseFrames", default: 1, in: 0...1) == 1)
    }

    /// One traced edge: x(y) in oriented pixels.
    public struct Edge: Sendable {
        public var curve: PolynomialSurface
        public var rms: Double
        public func x(at y: Double) -> Double { curve.evaluate(y, 0) }
    }

    public struct Result: Sendable {
        /// Optical edges (crossings of `edgeFraction` of the level).
        public var left: Edge
        public var right: Edge
        /// Fully illuminated part of the slit (crossings of `illuminatedFraction`).
        public var illuminatedLeft: Edge
        public var illuminatedRight: Edge
        public var rows: ClosedRange<Int>
        public var metrics: [QCMeasurement]

        /// The middle row of the traced rows, where the edges are reported.
        public var middleRow: Double { Double(rows.lowerBound + rows.upperBound) / 2 }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public func run(_ flat: Image) throws(Failure) -> Result {
        let last = lastRow < 0 ? flat.height - 1 : min(lastRow, flat.height - 1)
        guard firstRow < last else { throw Failure(description: "rows \(firstRow)...\(last) leave nothing to trace") }
        var ys: [Double] = [], crossings: [[Double]] = [[], [], [], []]
        var block = firstRow
        var profile = [Float](repeating: 0, count: flat.width)
        var column = [Float]()
        column.reserveCapacity(blockRows)
        while block + blockRows - 1 <= last {
            for x in 0..<flat.width {
                column.removeAll(keepingCapacity: true)
                for y in block..<(block + blockRows) where !flat[x, y].isNaN { column.append(flat[x, y]) }
                profile[x] = column.isEmpty ? .nan : Float(RobustStatistics.medianInPlace(&column))
            }
            if let found = Self.crossings(profile, fractions: [edgeFraction, illuminatedFraction], minimumLevel: minimumLevel) {
                ys.append(Double(block) + Double(blockRows - 1) / 2)
                for k in 0..<4 { crossings[k].append(found[k]) }
            }
            block += blockRows
        }
        guard ys.count > degree + 1 else {
            throw Failure(description: "the slit was found in only \(ys.count) blocks of \(blockRows) rows (level ≥ \(minimumLevel) ADU needed); "
                          + "is this a through-slit flat?")
        }
        let fit = PolynomialSurfaceFit(degrees: [degree, 0], clipSigma: clipSigma, maxIterations: 10)
        let points = ys.map { [$0, 0] }
        var edges: [Edge] = []
        for k in 0..<4 {
            do {
                let result = try fit.fit(points: points, values: crossings[k])
                edges.append(Edge(curve: result.surface, rms: result.rms))
            } catch {
                throw Failure(description: "slit edge fit failed: \(error)")
            }
        }
        let rows = firstRow...last
        let middle = Double(rows.lowerBound + rows.upperBound) / 2
        let metrics = [
            QCMeasurement("slitLeftEdge", edges[0].x(at: middle), unit: "px", "left optical edge (\(edgeFraction) of the level) at the middle row"),
            QCMeasurement("slitRightEdge", edges[1].x(at: middle), unit: "px", "right optical edge at the middle row"),
            QCMeasurement("illuminatedLeftEdge", edges[2].x(at: middle), unit: "px",
                          "left edge of the fully illuminated slit (\(illuminatedFraction) of the level) at the middle row"),
            QCMeasurement("illuminatedRightEdge", edges[3].x(at: middle), unit: "px", "right edge of the fully illuminated slit at the middle row"),
            QCMeasurement("slitLength", edges[1].x(at: middle) - edges[0].x(at: middle), unit: "px", "distance between the optical edges at the middle row"),
            QCMeasurement("edgeFitRMS", max(edges[0].rms, edges[1].rms), unit: "px", "larger RMS of the two optical-edge fits about their polynomials"),
            QCMeasurement("blocksUsed", Double(ys.count), unit: "", "row blocks in which both edges were found"),
            QCMeasurement("edgesAtBorder", Double([crossings[0], crossings[1]].filter { edge in
                edge.filter { $0 == -0.5 || $0 == Double(flat.width) - 0.5 }.count * 2 > edge.count }.count), unit: "",
                          "optical edges (0-2) cut by the frame's border in most blocks: the slit is longer than the window"),
        ]
        return Result(left: edges[0], right: edges[1], illuminatedLeft: edges[2], illuminatedRight: edges[3], rows: rows, metrics: metrics)
    }

    /// Left and right crossings of each fraction of the in-slit level, or nil when the
    /// profile has no slit (level too low). Where the light reaches a border of the frame
    /// (a slit longer than the detector window, as ISIS's), the border is the edge.
    /// Order: left/right of fractions[0], then left/right of fractions[1].
    static func crossings(_ profile: [Float], fractions: [Double], minimumLevel: Double) -> [Double]? {
        let finite = profile.filter { !$0.isNaN }
        guard finite.count > 8 else { return nil }
        // The slit occupies a contiguous run above half the bright-end level.
        var sorted = finite
        let bright = RobustStatistics.percentileInPlace(&sorted, 90)
        guard bright >= minimumLevel else { return nil }
        let half = Float(bright / 2)
        guard let first = profile.firstIndex(where: { $0 > half }), let lastIndex = profile.lastIndex(where: { $0 > half }),
              lastIndex - first > 8 else { return nil }
        let quarter = (lastIndex - first) / 4
        var core = Array(profile[(first + quarter)...(lastIndex - quarter)]).filter { !$0.isNaN }
        let level = RobustStatistics.medianInPlace(&core)
        var out: [Double] = []
        for fraction in fractions {
            let threshold = Float(level * fraction)
            // Walk outwards from the slit core so that noise outside the slit cannot count.
            let centre = (first + lastIndex) / 2
            var l = centre
            while l > 0, profile[l] >= threshold || profile[l].isNaN { l -= 1 }
            var r = centre
            while r < profile.count - 1, profile[r] >= threshold || profile[r].isNaN { r += 1 }
            // Linear interpolation between the last pixel below and the first at or above; a slit
            // longer than the frame is cut by the frame's border (the outer edge of its last pixel).
            let left = profile[l] < threshold ? Double(l) + Double(threshold - profile[l]) / Double(profile[l + 1] - profile[l]) : -0.5
            let right = profile[r] < threshold
                ? Double(r) - Double(threshold - profile[r]) / Double(profile[r - 1] - profile[r]) : Double(profile.count) - 0.5
            out += [left, right]
        }
        return out
    }
}
