import CalibCore
import Foundation

/// The long-slit pixel flat (PypeIt's "pixelflat"): the combined, bias-subtracted
/// through-slit flat divided by the lamp's spectrum along the dispersion and by the slit's
/// illumination along the slit, leaving the detector's pixel-to-pixel response (PRNU),
/// ≈ 1 inside the slit.
///
/// Model (PypeIt's `flatfield.FlatField` makes the same split, with B-splines):
/// flat(x, y) = S(y) · I(u, y) · P(x, y), with u = (x − l(y)) / (r(y) − l(y)) the position
/// along the slit between the CRV model's optical edges l(y), r(y). The two smooth factors
/// are found in turn, `iterations` times (2 by default):
/// - S(y), the lamp spectrum: per row, the median of flat/I over the slit's interior
///   (PRNU averages down by √(slit pixels)), smoothed by a local quadratic least-squares fit
///   over `spectralWindow` rows (Savitzky & Golay 1964), rows more than 5σ off a running
///   median left out. A quadratic follows the lamp's slopes and curvature, and at the ends
///   of the traced rows it is evaluated where it is needed, not at its window's centre.
/// - I(u, y), the illumination: per block of `illuminationBlockRows` rows, flat/S binned in u
///   (one bin per pixel of slit length at the middle row), the median per bin, smoothed by a
///   running median of `spatialWindow` bins and normalised to median 1; evaluated by linear
///   interpolation in u and between the blocks' centres in y.
///
/// Outside the slit's interior (nearer than `edgeMargin` px to an optical edge, where the
/// illumination falls too steeply to divide out), outside the traced rows, and in rows
/// whose lamp level S(y) is below `minimumLevel` ADU, the response is 1 and the pixel is
/// flagged 2 (not measured). Inside, a response outside `minResponse ... maxResponse`
/// (dead, hot or cosmetic pixels) is kept as measured and flagged 1. NaN input pixels are
/// flagged 1 with response 1.
///
/// Units: pixels of the oriented frame (x along the slit, y along the dispersion), pixel
/// centres at integers; responses are dimensionless.
public struct LongSlitPixelFlat: Sendable {
    public static let name = "longslit_pixflat"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "edgeMargin", "spectralWindow", "spatialWindow", "minimumLevel", "minResponse", "maxResponse", "iterations",
        "maxSaturatedFraction", "normaliseFrames", "illuminationBlockRows",
    ]

    public var edgeMargin: Double
    public var spectralWindow: Int
    public var spatialWindow: Int
    public var minimumLevel: Double
    public var minResponse: Double
    public var maxResponse: Double
    public var iterations: Int
    /// Rows per illumination profile: the slit function is measured in blocks of this many
    /// rows and interpolated linearly between their centres, so that a slit illumination that
    /// changes with wavelength (±2 % on Kast, ±10 % on ISIS over the detector) is followed.
    public var illuminationBlockRows: Int
    /// Which flats are combined (see `FlatFrameScreen`).
    public var screen: FlatFrameScreen

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let reader = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        edgeMargin = try reader.value("edgeMargin", default: 3, in: 0...100)
        spectralWindow = Int(try reader.value("spectralWindow", default: 15, in: 1...1001))
        spatialWindow = Int(try reader.value("spatialWindow", default: 7, in: 1...1001))
        minimumLevel = try reader.value("minimumLevel", default: 100, in: 0...1e9)
        minResponse = try reader.value("minResponse", default: 0.5, in: 0...1)
        maxResponse = try reader.value("maxResponse", default: 1.5, in: 1...100)
        iterations = Int(try reader.value("iterations", default: 2, in: 1...10))
        illuminationBlockRows = Int(try reader.value("illuminationBlockRows", default: 128, in: 8...100_000))
        screen = FlatFrameScreen(maxSaturatedFraction: try reader.value("maxSaturatedFraction", default: 0.001, in: 0...1),
                                 normalise: try reader.value("normaliseFrames", default: 1, in: 0...1) == 1)
    }

    public struct Result: Sendable {
        /// The pixel response: ≈ 1 inside the slit, 1 where not measured.
        public var response: Image
        /// 0 measured and good; 1 measured, response out of range (or NaN input); 2 not measured.
        public var flags: Image
        /// S(y), the smoothed lamp spectrum per row (ADU; NaN outside the traced rows).
        public var lampSpectrum: [Float]
        /// I(u) per block of `illuminationBlockRows` rows (from the first traced row) on
        /// `illuminationPositions` (u in 0...1 between the optical edges), each of median 1.
        public var illumination: [[Float]]
        public var illuminationPositions: [Double]
        public var metrics: [QCMeasurement]
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// - Parameters:
    ///   - flat: the combined, bias-subtracted through-slit flat (ADU), oriented.
    ///   - left, right: the optical edges x(y) of the slit per row of `flat` (CRV model).
    ///   - rows: the rows the CRV model traced; others are not measured.
    public func run(_ flat: Image, left: [Double], right: [Double], rows: ClosedRange<Int>) throws(Failure) -> Result {
        let width = flat.width, height = flat.height
        precondition(left.count == height && right.count == height)
        let rows = max(0, rows.lowerBound)...min(height - 1, rows.upperBound)
        guard rows.count > 2 else { throw Failure(description: "the CRV model's rows \(rows) leave nothing to flatten") }
        // The interior of the slit per row, in whole pixels.
        var x0 = [Int](repeating: 0, count: height), x1 = [Int](repeating: -1, count: height)
        for y in rows {
            let l = left[y] + edgeMargin, r = right[y] - edgeMargin
            guard r > l else { continue }
            x0[y] = max(0, Int(l.rounded(.up))); x1[y] = min(width - 1, Int(r.rounded(.down)))
        }
        let middle = (rows.lowerBound + rows.upperBound) / 2
        let length = right[middle] - left[middle]
        guard length > 2 * edgeMargin + 4 else {
            throw Failure(description: String(format: "the slit is %.1f px long at row %d: too short for an edge margin of %.1f px", length, middle, edgeMargin))
        }
        let bins = max(8, Int(length.rounded()))
        func position(_ x: Int, _ y: Int) -> Double { (Double(x) - left[y]) / (right[y] - left[y]) }
        func bin(_ u: Double) -> Int { min(bins - 1, max(0, Int(u * Double(bins)))) }
        let centres = (0..<bins).map { (Double($0) + 0.5) / Double(bins) }

        let blockRows = illuminationBlockRows
        let blockCount = (rows.count + blockRows - 1) / blockRows
        var illumination = [[Float]](repeating: [Float](repeating: 1, count: bins), count: blockCount)
        var spectrum = [Float](repeating: .nan, count: height)
        func profileAt(_ profile: [Float], _ u: Double) -> Float {
            let t = u * Double(bins) - 0.5
            let i = min(bins - 2, max(0, Int(t.rounded(.down))))
            let f = Float(min(1, max(0, t - Double(i))))
            return profile[i] * (1 - f) + profile[i + 1] * f
        }
        func illuminationAt(_ u: Double, _ y: Int) -> Float {
            guard blockCount > 1 else { return profileAt(illumination[0], u) }
            let t = (Double(y - rows.lowerBound) - Double(blockRows - 1) / 2) / Double(blockRows)
            let b = min(blockCount - 2, max(0, Int(t.rounded(.down))))
            let f = Float(min(1, max(0, t - Double(b))))
            return profileAt(illumination[b], u) * (1 - f) + profileAt(illumination[b + 1], u) * f
        }
        var row = [Float]()
        var measuredBins = [ClosedRange<Int>?](repeating: nil, count: blockCount)
        for _ in 0..<iterations {
            // S(y): the slit-collapsed spectrum, illumination divided out.
            var raw = [Float](repeating: .nan, count: height)
            for y in rows where x1[y] >= x0[y] {
                row.removeAll(keepingCapacity: true)
                for x in x0[y]...x1[y] {
                    let v = flat[x, y] / illuminationAt(position(x, y), y)
                    if v.isFinite { row.append(v) }
                }
                if row.count >= 3 { raw[y] = Float(RobustStatistics.medianInPlace(&row)) }
            }
            spectrum = Self.smooth(raw, width: spectralWindow)
            // I(u, y): the spectrum divided out, binned along the slit, per block of rows.
            var profiles = [[Float]?](repeating: nil, count: blockCount)
            for block in 0..<blockCount {
                var binned = [[Float]](repeating: [], count: bins)
                let first = rows.lowerBound + block * blockRows
                for y in first...min(rows.upperBound, first + blockRows - 1) where x1[y] >= x0[y] {
                    let s = spectrum[y]
                    guard s.isFinite, Double(s) >= minimumLevel else { continue }
                    for x in x0[y]...x1[y] {
                        let v = flat[x, y] / s
                        if v.isFinite { binned[bin(position(x, y))].append(v) }
                    }
                }
                var profile = binned.map { values -> Float in
                    var v = values
                    return v.count < 3 ? .nan : Float(RobustStatistics.medianInPlace(&v))
                }
                profile = RunningMedian.filter(profile, width: spatialWindow)
                // Bins the interior never reaches take their nearest measured neighbour's value.
                guard let firstBin = profile.firstIndex(where: \.isFinite), let lastBin = profile.lastIndex(where: \.isFinite) else { continue }
                for k in 0..<firstBin { profile[k] = profile[firstBin] }
                for k in (lastBin + 1)..<bins { profile[k] = profile[lastBin] }
                for k in firstBin...lastBin where !profile[k].isFinite { profile[k] = profile[k - 1] }
                var inside = Array(profile[firstBin...lastBin])
                let norm = Float(RobustStatistics.medianInPlace(&inside))
                guard norm > 0 else { continue }
                profiles[block] = profile.map { $0 / norm }
                measuredBins[block] = firstBin...lastBin
            }
            guard let anyBlock = profiles.firstIndex(where: { $0 != nil }) else {
                throw Failure(description: "no row of the slit reaches the minimum lamp level of \(minimumLevel) ADU; is this a through-slit flat?")
            }
            // A block without light (the lamp too faint there) takes its nearest lit neighbour's profile.
            var last = profiles[anyBlock]!
            for block in 0..<blockCount {
                if let p = profiles[block] { last = p }
                illumination[block] = profiles[block] ?? last
            }
        }

        var response = Image(width: width, height: height, value: 1)
        var flags = Image(width: width, height: height, value: 2)
        var good: [Float] = [], measured = 0, outOfRange = 0
        // Blocks of 64 rows × an eighth of the slit: their median response shows what the
        // smooth model missed (a slit function that changes along the dispersion, a lamp
        // feature sharper than the spectral window), which the per-pixel scatter hides.
        let checkRows = 64, blockColumns = 8
        var blocks = [[Float]](repeating: [], count: ((rows.count + checkRows - 1) / checkRows) * blockColumns)
        good.reserveCapacity(rows.count * max(1, bins))
        for y in rows where x1[y] >= x0[y] {
            let s = spectrum[y]
            guard s.isFinite, Double(s) >= minimumLevel else { continue }
            for x in x0[y]...x1[y] {
                measured += 1
                let p = flat[x, y] / (s * illuminationAt(position(x, y), y))
                guard p.isFinite else { flags[x, y] = 1; outOfRange += 1; continue }
                response[x, y] = p
                if Double(p) < minResponse || Double(p) > maxResponse {
                    flags[x, y] = 1; outOfRange += 1
                } else {
                    flags[x, y] = 0; good.append(p)
                    let column = min(blockColumns - 1, max(0, Int(position(x, y) * Double(blockColumns))))
                    blocks[((y - rows.lowerBound) / checkRows) * blockColumns + column].append(p)
                }
            }
        }
        guard !good.isEmpty else { throw Failure(description: "no pixel of the slit could be measured") }
        let plain = RobustStatistics.meanAndStandardDeviation(good)
        var worstBlock = 0.0
        for var block in blocks where block.count >= 100 { worstBlock = max(worstBlock, abs(RobustStatistics.medianInPlace(&block) - 1)) }
        let robust = RobustStatistics.madSigma(good)
        var used: [Float] = []
        for (block, range) in measuredBins.enumerated() { if let range { used += illumination[block][range] } }
        let rowsMeasured = rows.filter { spectrum[$0].isFinite && Double(spectrum[$0]) >= minimumLevel && x1[$0] >= x0[$0] }.count
        let metrics = [
            QCMeasurement("pixelResponseRMS", plain.sd, unit: "", "RMS of the good pixels' response about its mean inside the slit (PRNU plus photon noise)"),
            QCMeasurement("pixelResponseSigma", robust.sigma, unit: "", "1.4826·MAD of the good pixels' response inside the slit"),
            QCMeasurement("pixelResponseMedian", robust.median, unit: "", "median response of the good pixels inside the slit (1 when the model is right)"),
            QCMeasurement("flaggedFraction", Double(outOfRange) / Double(max(1, measured)), unit: "",
                          "fraction of the slit's measured pixels whose response is outside \(minResponse)...\(maxResponse) or NaN"),
            QCMeasurement("unmeasuredRowFraction", 1 - Double(rowsMeasured) / Double(rows.count), unit: "",
                          "fraction of the traced rows below the lamp level of \(minimumLevel) ADU, left at 1 and flagged"),
            QCMeasurement("illuminationMin", Double(used.min() ?? .nan), unit: "", "lowest value of the slit illumination profile (median 1) in the slit's interior"),
            QCMeasurement("illuminationMax", Double(used.max() ?? .nan), unit: "", "highest value of the slit illumination profile (median 1) in the slit's interior"),
            QCMeasurement("blockResidualMax", worstBlock, unit: "",
                          "largest |median − 1| of the response in blocks of \(checkRows) rows × 1/\(blockColumns) of the slit (≥ 100 good pixels): the smooth model's misfit"),
            QCMeasurement("lampSpectrumMax", Double(spectrum.filter(\.isFinite).max() ?? .nan), unit: "ADU", "peak of the smoothed lamp spectrum"),
        ]
        return Result(response: response, flags: flags, lampSpectrum: spectrum, illumination: illumination,
                      illuminationPositions: centres, metrics: metrics)
    }

    /// Local quadratic least squares over `width` samples (centred, cut at the ends), NaN
    /// ignored; samples more than 5 robust σ off a running median of the same width are left
    /// out, so that a bad row does not bend its neighbours. NaN where fewer than 3 samples remain.
    static func smooth(_ values: [Float], width: Int) -> [Float] {
        let n = values.count, half = max(1, width / 2)
        let median = RunningMedian.filter(values, width: width)
        var deviations: [Float] = []
        for i in 0..<n where values[i].isFinite && median[i].isFinite && median[i] != 0 { deviations.append(values[i] / median[i] - 1) }
        let sigma = deviations.isEmpty ? 0 : RobustStatistics.madSigma(deviations).sigma
        let usable = (0..<n).map { i -> Bool in
            guard values[i].isFinite, median[i].isFinite, median[i] != 0 else { return false }
            return sigma == 0 || abs(Double(values[i] / median[i] - 1)) <= 5 * sigma
        }
        var out = [Float](repeating: .nan, count: n)
        for i in 0..<n {
            // Normal equations of v ≈ a + b t + c t², t = j − i.
            var s = [Double](repeating: 0, count: 5), r = [Double](repeating: 0, count: 3)
            for j in max(0, i - half)...min(n - 1, i + half) where usable[j] {
                let t = Double(j - i), v = Double(values[j])
                var p = 1.0
                for k in 0..<5 { s[k] += p; if k < 3 { r[k] += p * v }; p *= t }
            }
            guard s[0] >= 3 else { out[i] = median[i]; continue }
            // Cramer's rule on the 3×3 system [[s0 s1 s2] [s1 s2 s3] [s2 s3 s4]]·(a b c) = r; a is the value at t = 0.
            let det = s[0] * (s[2] * s[4] - s[3] * s[3]) - s[1] * (s[1] * s[4] - s[3] * s[2]) + s[2] * (s[1] * s[3] - s[2] * s[2])
            guard abs(det) > 1e-12 else { out[i] = median[i]; continue }
            let detA = r[0] * (s[2] * s[4] - s[3] * s[3]) - s[1] * (r[1] * s[4] - s[3] * r[2]) + s[2] * (r[1] * s[3] - s[2] * r[2])
            out[i] = Float(detA / det)
        }
        return out
    }
}
