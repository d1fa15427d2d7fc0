import CalibCore
import Dispatch
import Foundation

/// SOXSPIPE's `create_dispersion_map` for single- and multi-pinhole arc
/// frames: find every line of the pinhole map near its predicted position,
/// then fit X, Y = Σ cᵢⱼ(ₖ) nⁱ λʲ (sᵏ) with iterative σ clipping.
///
/// The static map is the instrument's nominal model; tonight's images are
/// displaced from it by flexure (several px, a small rotation and bow). So
/// before the tight stamps, the displacement is measured:
/// - single pinhole: the brightest lines are found in wide stamps and a
///   `NightShiftModel` is fitted to their observed − predicted offsets;
/// - multi pinhole: a first-guess dispersion solution (DISP_MAP) predicts
///   each central-pinhole position; the shift from the map's central
///   position is applied to every pinhole of the same line.
///
/// Stamp sizes and the PSF guess are given in *unbinned* pixels and divided
/// by the frame's binning. Bad lines degrade gracefully: they are flagged
/// (`LineQuality`) or clipped and counted in QC, never fatal, unless fewer
/// lines remain than the polynomials have coefficients.
public struct DispersionMapFit: Sendable {
    public static let parameterNames: Set<String> = [
        "psfFWHM", "stampHalfWidth", "wideStampHalfWidth", "offsetLines", "detectionThreshold",
        "orderDegreeX", "wavelengthDegreeX", "slitDegreeX", "orderDegreeY", "wavelengthDegreeY", "slitDegreeY",
        "clipSigma", "clipIterations", "minimumFWHMRatio", "maximumFWHMRatio", "slitHalfLength", "positionErrorFloor",
        "correctionOrderDegree", "correctionWavelengthDegree", "correctionSlitDegree",
    ]

    public var psfFWHM: Double
    public var stampHalfWidth: Double
    public var wideStampHalfWidth: Double
    public var offsetLines: Int
    public var detectionThreshold: Double
    public var degreesX: [Int]
    public var degreesY: [Int]
    public var clipSigma: Double
    public var clipIterations: Int
    public var widthRange: ClosedRange<Double>
    /// Half slit length for the 2D image map, arcsec (0: the fitted pinhole range).
    public var slitHalfLength: Double
    /// Added in quadrature to each line's fitted centre uncertainty before
    /// weighting the polynomial fits, frame px.
    public var positionErrorFloor: Double
    /// Degrees (n, λ, s) of the correction fitted to the lines when a
    /// `NominalDispersion` is given; the solution is the nominal model plus it.
    public var correctionDegrees: [Int]

    public init(recipe: String, parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: recipe, values: parameters, known: Self.parameterNames)
        psfFWHM = try r.value("psfFWHM", default: 6, in: 0.5...100)
        stampHalfWidth = try r.value("stampHalfWidth", default: 12, in: 2...500)
        wideStampHalfWidth = try r.value("wideStampHalfWidth", default: 40, in: 4...2000)
        offsetLines = Int(try r.value("offsetLines", default: 200, in: 5...100_000))
        detectionThreshold = try r.value("detectionThreshold", default: 5, in: 1...1000)
        degreesX = [Int(try r.value("orderDegreeX", default: 4, in: 0...10)), Int(try r.value("wavelengthDegreeX", default: 4, in: 0...10)),
                    Int(try r.value("slitDegreeX", default: 2, in: 0...6))]
        degreesY = [Int(try r.value("orderDegreeY", default: 4, in: 0...10)), Int(try r.value("wavelengthDegreeY", default: 4, in: 0...10)),
                    Int(try r.value("slitDegreeY", default: 2, in: 0...6))]
        clipSigma = try r.value("clipSigma", default: 4, in: 1...20)
        clipIterations = Int(try r.value("clipIterations", default: 10, in: 1...100))
        widthRange = try r.value("minimumFWHMRatio", default: 0.5, in: 0.05...1)...(try r.value("maximumFWHMRatio", default: 2, in: 1...20))
        slitHalfLength = try r.value("slitHalfLength", default: 0, in: 0...1000)
        positionErrorFloor = try r.value("positionErrorFloor", default: 0.005, in: 0.0001...1)
        correctionDegrees = [Int(try r.value("correctionOrderDegree", default: 2, in: 0...6)),
                             Int(try r.value("correctionWavelengthDegree", default: 2, in: 0...6)),
                             Int(try r.value("correctionSlitDegree", default: 2, in: 0...4))]
    }

    /// One pinhole-map line and what became of it.
    public struct Line: Sendable {
        public var entry: PinholeMap.Entry
        /// Position the tight stamp was centred on (map + night displacement), px.
        public var predictedX: Double
        public var predictedY: Double
        public var measurement: LineMeasurement
        /// Solution at (n, λ, s), px; NaN when no solution.
        public var fittedX: Double = .nan
        public var fittedY: Double = .nan
        /// Rejected by the σ clipping of the polynomial fit.
        public var clipped = false
        public var residualX: Double { measurement.x - fittedX }
        public var residualY: Double { measurement.y - fittedY }
        public var used: Bool { measurement.quality == .good && !clipped }
    }

    public struct Result: Sendable {
        public var solution: DispersionSolution
        public var lines: [Line]
        public var nightShift: NightShiftModel?
        /// Night shift at the detector centre (observed − static map), px.
        public var shiftAtCentre: (x: Double, y: Double)
        public var metrics: [QCMeasurement]
    }

    public enum Failure: PermanentRecipeFailure, CustomStringConvertible {
        case emptyMap
        case tooFewLines(found: Int, needed: Int, detail: String)
        case correctionAboveNominal(correction: [Int], nominal: [Int])

        public var description: String {
            switch self {
            case .emptyMap: "the pinhole map has no lines on this detector"
            case .correctionAboveNominal(let c, let n):
                "correction degrees \(c) exceed the nominal model's \(n): raise the model's degrees or lower the correction's"
            case .tooFewLines(let found, let needed, let detail): "only \(found) usable lines for \(needed) coefficients (\(detail))"
            }
        }
    }

    /// How `solve` finds the coefficients, in words for a product header.
    public func fitMode(nominal: Bool) -> String {
        nominal ? "nominal+correction \(correctionDegrees.map(String.init).joined(separator: ","))" : "free"
    }

    /// The locator for stamps of `halfWidth` unbinned px. Its Gaussian is
    /// fitted on ±2 FWHM about the detected peak; with `predictionsCorrected`
    /// (tonight's displacement already applied to the predictions, good to a
    /// few 0.01 px) the peak is sought within 1 FWHM of the prediction only,
    /// otherwise anywhere in the stamp.
    ///
    /// At unequal binning (`binningY` ≠ `binning`, X-shooter's 1×2) the stamp's
    /// half widths follow each axis's binning; the fitted Gaussian is circular,
    /// so its expected σ is the geometric mean of the two axes' σ (an
    /// elliptical fit is not implemented).
    public func locator(binning: Int, binningY: Int? = nil, halfWidth: Double, gain: Double, columns: Range<Int>?,
                        predictionsCorrected: Bool = false) -> ArcLineLocator {
        let bx = Double(max(binning, 1)), by = Double(max(binningY ?? binning, 1))
        let fwhm = psfFWHM / (bx * by).squareRoot()
        let sigma = fwhm / (2 * (2 * log(2.0)).squareRoot())
        return ArcLineLocator(halfWidthX: max(2, Int((halfWidth / bx).rounded())), halfWidthY: max(2, Int((halfWidth / by).rounded())),
                              psfSigma: sigma, detectionThreshold: detectionThreshold,
                              sigmaRange: widthRange, gain: gain.isNaN ? 1 : gain, columns: columns,
                              searchRadius: predictionsCorrected ? fwhm : nil, fitHalfWidth: max(2, Int((2 * fwhm).rounded())))
    }

    /// Tonight's displacement from the static map, measured as the first
    /// step of `singlePinhole` does: the `offsetLines` brightest lines of
    /// `entries` are found in wide stamps and a `NightShiftModel` is fitted
    /// to their observed − predicted offsets. Nil when no line was found.
    public func nightShift(_ image: Image, entries: [PinholeMap.Entry], binning: Int, binningY: Int? = nil, columns: Range<Int>? = nil,
                           gain: Double = .nan) -> NightShiftModel? {
        let wide = locator(binning: binning, binningY: binningY, halfWidth: wideStampHalfWidth, gain: gain, columns: columns)
        let brightest = Array(entries.indices.sorted { entries[$0].intensity > entries[$1].intensity }.prefix(offsetLines))
        let wideFound = wide.locateAll(image, at: brightest.map { (entries[$0].x, entries[$0].y) })
        let good = brightest.indices.filter { wideFound[$0].quality == .good }
        return NightShiftModel.fit(predicted: good.map { (entries[brightest[$0]].x, entries[brightest[$0]].y) },
                                   offsets: good.map { (wideFound[$0].x - entries[brightest[$0]].x, wideFound[$0].y - entries[brightest[$0]].y) })
    }

    /// Single-pinhole solution X, Y = Σ cᵢⱼ nⁱ λʲ from the central pinhole's lines.
    /// - Parameters:
    ///   - image: bias-subtracted frame, ADU.
    ///   - map: the pinhole map at this frame's binning (`PinholeMap.rebinned`).
    ///   - columns: light-sensitive columns (overscan excluded).
    ///   - nominal: the instrument's nominal model at this binning: when given, the lines fit a
    ///     `correctionDegrees` correction to it rather than the whole polynomial.
    public func singlePinhole(_ image: Image, map: PinholeMap, columns: Range<Int>? = nil, gain: Double = .nan,
                              nominal: NominalDispersion? = nil) throws -> Result {
        let entries = map.centralPinhole.entries
        guard !entries.isEmpty else { throw Failure.emptyMap }
        // 1. Tonight's displacement from the brightest lines in wide stamps.
        let coarse = nightShift(image, entries: entries, binning: map.binning, binningY: map.binningY, columns: columns, gain: gain)
        // 2. Every line in a tight stamp at the corrected prediction.
        let tight = locator(binning: map.binning, binningY: map.binningY, halfWidth: stampHalfWidth, gain: gain, columns: columns,
                            predictionsCorrected: coarse != nil)
        let predicted = entries.map { e -> (x: Double, y: Double) in
            let o = coarse?.offset(x: e.x, y: e.y) ?? (dx: 0, dy: 0)
            return (e.x + o.dx, e.y + o.dy)
        }
        let found = tight.locateAll(image, at: predicted)
        var lines = entries.indices.map {
            Line(entry: entries[$0], predictedX: predicted[$0].x, predictedY: predicted[$0].y, measurement: found[$0])
        }
        vet(&lines, binning: map.binning, binningY: map.binningY)
        return try solve(lines: lines, map: map, slit: false, image: image, nominal: nominal)
    }

    /// Multi-pinhole solution X, Y = Σ cᵢⱼₖ nⁱ λʲ sᵏ, starting from a single-pinhole solution.
    public func multiPinhole(_ image: Image, map: PinholeMap, firstGuess: DispersionSolution, columns: Range<Int>? = nil,
                             gain: Double = .nan, nominal: NominalDispersion? = nil) throws -> Result {
        guard !map.entries.isEmpty else { throw Failure.emptyMap }
        let centre = map.slitPositions.min { abs($0) < abs($1) } ?? 0
        // Group the pinholes of each line: key (order, wavelength).
        struct Key: Hashable { var order: Int; var wavelength: Double }
        var groups: [Key: [Int]] = [:]
        for (i, e) in map.entries.enumerated() { groups[Key(order: e.order, wavelength: e.wavelength), default: []].append(i) }
        let keys = groups.keys.sorted { ($0.order, $0.wavelength) < ($1.order, $1.wavelength) }
        let tight = locator(binning: map.binning, binningY: map.binningY, halfWidth: stampHalfWidth, gain: gain, columns: columns)
        let perGroup = Self.parallelMap(keys) { key -> [Line] in
            let members = groups[key]!.sorted { map.entries[$0].slit < map.entries[$1].slit }
            // The first-guess solution says where the central pinhole is tonight; every pinhole moves with it.
            let guess = firstGuess.position(order: key.order, wavelength: key.wavelength, slit: 0)
            let central = members.first { map.entries[$0].slit == centre }.map { map.entries[$0] }
            let shift = central.map { (guess.x - $0.x, guess.y - $0.y) } ?? (0, 0)
            let predicted = members.map { (x: map.entries[$0].x + shift.0, y: map.entries[$0].y + shift.1) }
            let found = tight.locateGroup(image, positions: predicted)
            return members.indices.map { k in
                Line(entry: map.entries[members[k]], predictedX: predicted[k].x, predictedY: predicted[k].y, measurement: found[k])
            }
        }
        var lines = perGroup.flatMap { $0 }
        vet(&lines, binning: map.binning, binningY: map.binningY)
        return try solve(lines: lines, map: map, slit: true, image: image, nominal: nominal)
    }

    /// Frame-wide sanity of every fitted line (`ArcLineVetting`): what a
    /// stamp cannot tell by itself, that its fit ran to a neighbour, a blend
    /// or a cosmic ray, shows against all the other lines.
    func vet(_ lines: inout [Line], binning: Int, binningY: Int) {
        let candidates = lines.map {
            ArcLineVetting.Candidate(predictedX: $0.predictedX, predictedY: $0.predictedY, intensity: $0.entry.intensity,
                                     measurement: $0.measurement)
        }
        let quality = ArcLineVetting().judge(candidates, psfFWHM: psfFWHM / (Double(max(binning, 1)) * Double(max(binningY, 1))).squareRoot())
        for i in lines.indices { lines[i].measurement.quality = quality[i] }
    }

    /// Fits X and Y with clipping; a line clipped in either is dropped from both.
    func solve(lines input: [Line], map: PinholeMap, slit: Bool, image: Image, nominal: NominalDispersion? = nil) throws -> Result {
        var lines = input
        let usable = lines.indices.filter { lines[$0].measurement.quality == .good }
        // With a nominal model the lines determine a low-degree correction to it (the base); without, the whole polynomial.
        let centreSlit = map.slitPositions.min { abs($0) < abs($1) } ?? 0
        let base = nominal?.solution(slit: slit ? nil : centreSlit)
        let dx = base != nil ? Array(correctionDegrees.prefix(slit ? 3 : 2)) : slit ? degreesX : Array(degreesX.prefix(2))
        let dy = base != nil ? Array(correctionDegrees.prefix(slit ? 3 : 2)) : slit ? degreesY : Array(degreesY.prefix(2))
        if let base, !zip(dx, base.x.degrees).allSatisfy({ $0 <= $1 }) || !zip(dy, base.y.degrees).allSatisfy({ $0 <= $1 }) {
            throw Failure.correctionAboveNominal(correction: dx, nominal: base.x.degrees)
        }
        let needed = max(PolynomialSurface.terms(degrees: dx).count, PolynomialSurface.terms(degrees: dy).count)
        guard usable.count > needed else {
            throw Failure.tooFewLines(found: usable.count, needed: needed, detail: "\(lines.count) lines in the map")
        }
        func variables(_ e: PinholeMap.Entry) -> [Double] { slit ? [Double(e.order), e.wavelength, e.slit] : [Double(e.order), e.wavelength] }
        let points = usable.map { variables(lines[$0].entry) }
        // Each line weighted by its centroid uncertainty from the fit, with a floor for what a
        // stamp fit cannot know (residual blends, the PSF's departure from a Gaussian).
        func weight(_ e: Double) -> Double { 1 / (e.isFinite ? e * e + positionErrorFloor * positionErrorFloor : .infinity) }
        let wx = usable.map { weight(lines[$0].measurement.xError) }, wy = usable.map { weight(lines[$0].measurement.yError) }
        // What the fits see: positions, or positions minus the nominal model's.
        func target(_ i: Int) -> (x: Double, y: Double) {
            let m = lines[i].measurement
            guard let base else { return (m.x, m.y) }
            let v = variables(lines[i].entry)
            return (m.x - base.x.evaluate(v), m.y - base.y.evaluate(v))
        }
        let targets = usable.map(target)
        let scalingX = base.map { ($0.x.offsets, $0.x.halfRanges) }, scalingY = base.map { ($0.y.offsets, $0.y.halfRanges) }
        let clipX: PolynomialSurfaceFit.Result, clipY: PolynomialSurfaceFit.Result
        do {
            clipX = try PolynomialSurfaceFit(degrees: dx, clipSigma: clipSigma, maxIterations: clipIterations)
                .fit(points: points, values: targets.map(\.x), weights: wx, scaling: scalingX)
            clipY = try PolynomialSurfaceFit(degrees: dy, clipSigma: clipSigma, maxIterations: clipIterations)
                .fit(points: points, values: targets.map(\.y), weights: wy, scaling: scalingY)
        } catch {
            throw Failure.tooFewLines(found: usable.count, needed: needed, detail: "\(error)")
        }
        var keptIdx: [Int] = [], keptK: [Int] = []
        for (k, i) in usable.enumerated() {
            if clipX.clipped[k] || clipY.clipped[k] { lines[i].clipped = true } else { keptIdx.append(i); keptK.append(k) }
        }
        // Final coefficients from the lines both fits kept.
        let keptPoints = keptIdx.map { variables(lines[$0].entry) }
        let surfaceX: PolynomialSurface, surfaceY: PolynomialSurface
        do {
            let cx = try PolynomialSurfaceFit(degrees: dx, maxIterations: 1)
                .fit(points: keptPoints, values: keptK.map { targets[$0].x }, weights: keptK.map { wx[$0] }, scaling: scalingX).surface
            let cy = try PolynomialSurfaceFit(degrees: dy, maxIterations: 1)
                .fit(points: keptPoints, values: keptK.map { targets[$0].y }, weights: keptK.map { wy[$0] }, scaling: scalingY).surface
            surfaceX = base.map { $0.x.adding(cx) } ?? cx
            surfaceY = base.map { $0.y.adding(cy) } ?? cy
        } catch {
            throw Failure.tooFewLines(found: keptIdx.count, needed: needed, detail: "after clipping: \(error)")
        }
        let orders = Array(Set(keptIdx.map { lines[$0].entry.order })).sorted()
        var solution = DispersionSolution(x: surfaceX, y: surfaceY, orders: orders, wavelengthLimits: [:],
                                          slitRange: slit ? (keptIdx.map { lines[$0].entry.slit }.min()!...keptIdx.map { lines[$0].entry.slit }.max()!) : nil)
        for i in lines.indices {
            let p = solution.position(order: lines[i].entry.order, wavelength: lines[i].entry.wavelength, slit: lines[i].entry.slit)
            lines[i].fittedX = p.x; lines[i].fittedY = p.y
        }
        // Wavelength limits: λ at the first and last row for each order, from its lines' range.
        for n in orders {
            let ws = keptIdx.filter { lines[$0].entry.order == n }.map { lines[$0].entry.wavelength }
            guard let lo = ws.min(), let hi = ws.max() else { continue }
            let a = solution.wavelength(order: n, row: -0.5, guess: lo), b = solution.wavelength(order: n, row: Double(image.height) - 0.5, guess: hi)
            let a2 = a.isFinite ? a : lo, b2 = b.isFinite ? b : hi
            solution.wavelengthLimits[n] = min(a2, b2)...max(a2, b2)
        }
        // Tonight's displacement from the static map, over all used central-pinhole lines.
        let central = lines.indices.filter { lines[$0].used && lines[$0].entry.slit == centreSlit }
        let shift = NightShiftModel.fit(predicted: central.map { (lines[$0].entry.x, lines[$0].entry.y) },
                                        offsets: central.map { (lines[$0].measurement.x - lines[$0].entry.x, lines[$0].measurement.y - lines[$0].entry.y) },
                                        weights: central.map { (weight(lines[$0].measurement.xError), weight(lines[$0].measurement.yError)) })
        let c = 0.5 * Double(image.width - 1), cy = 0.5 * Double(image.height - 1)
        let atCentre = shift?.offset(x: c, y: cy) ?? (.nan, .nan)
        let metrics = Self.metrics(lines: lines, solution: solution, shiftAtCentre: (atCentre.dx, atCentre.dy), map: map)
        return Result(solution: solution, lines: lines, nightShift: shift, shiftAtCentre: (atCentre.dx, atCentre.dy), metrics: metrics)
    }

    /// QC as SOXSPIPE reports it for a dispersion solution.
    static func metrics(lines: [Line], solution: DispersionSolution, shiftAtCentre: (x: Double, y: Double), map: PinholeMap) -> [QCMeasurement] {
        let detected = lines.filter { $0.measurement.quality == .good }
        let used = lines.filter(\.used)
        let clipped = detected.count - used.count
        func stats(_ v: [Double]) -> (max: Double, min: Double, median: Double, sd: Double) {
            guard !v.isEmpty else { return (.nan, .nan, .nan, .nan) }
            let f = v.map(Float.init)
            return (v.max()!, v.min()!, RobustStatistics.median(f), RobustStatistics.meanAndStandardDeviation(f).sd)
        }
        let rx = used.map(\.residualX), ry = used.map(\.residualY)
        let rc = zip(rx, ry).map { ($0 * $0 + $1 * $1).squareRoot() }
        var m: [QCMeasurement] = [
            QCMeasurement("linesTotal", Double(lines.count), unit: "", "lines (× pinholes) in the pinhole map on this detector"),
            QCMeasurement("linesDetected", Double(detected.count), unit: "", "lines found and fitted"),
            QCMeasurement("linesDetectedFraction", Double(detected.count) / Double(max(lines.count, 1)), unit: "", "detected / total"),
            QCMeasurement("linesClipped", Double(clipped), unit: "", "detected lines rejected by the σ clipping"),
            QCMeasurement("linesClippedFraction", Double(clipped) / Double(max(detected.count, 1)), unit: "", "clipped / detected"),
        ]
        for (name, v) in [("X", rx), ("Y", ry), ("XY", rc)] {
            let s = stats(v)
            m += [
                QCMeasurement("residual\(name)Max", s.max, unit: "px", "largest fit residual in \(name) (kept lines)"),
                QCMeasurement("residual\(name)Min", s.min, unit: "px", "smallest fit residual in \(name) (kept lines)"),
                QCMeasurement("residual\(name)Median", s.median, unit: "px", "median fit residual in \(name)"),
                QCMeasurement("residual\(name)SD", s.sd, unit: "px", "standard deviation of the fit residuals in \(name)"),
            ]
        }
        let ox = used.map { $0.measurement.x - $0.entry.x }, oy = used.map { $0.measurement.y - $0.entry.y }
        let sx = stats(ox), sy = stats(oy)
        m += [
            QCMeasurement("offsetXMedian", sx.median, unit: "px", "median observed − static-map X (the night's shift)"),
            QCMeasurement("offsetXSD", sx.sd, unit: "px", "SD of observed − static-map X"),
            QCMeasurement("offsetYMedian", sy.median, unit: "px", "median observed − static-map Y"),
            QCMeasurement("offsetYSD", sy.sd, unit: "px", "SD of observed − static-map Y"),
            QCMeasurement("shiftXAtCentre", shiftAtCentre.x, unit: "px", "night displacement model at the detector centre, X"),
            QCMeasurement("shiftYAtCentre", shiftAtCentre.y, unit: "px", "night displacement model at the detector centre, Y"),
        ]
        let fwhm = used.map { Float($0.measurement.fwhmY) }
        let resolving = used.map { l -> Float in
            let d = solution.dispersionPixelsPerNanometre(order: l.entry.order, wavelength: l.entry.wavelength, slit: l.entry.slit)
            return Float(l.entry.wavelength * d / l.measurement.fwhmY)
        }
        m += [
            QCMeasurement("fwhmMedian", RobustStatistics.median(fwhm), unit: "px", "median line FWHM along the dispersion"),
            QCMeasurement("resolvingPowerMedian", RobustStatistics.median(resolving), unit: "", "median λ/Δλ, Δλ = FWHM·dλ/dY"),
        ]
        return m
    }

    /// Maps in parallel over `items` (results in order).
    public static func parallelMap<T, R>(_ items: [T], _ body: (T) -> R) -> [R] {
        guard !items.isEmpty else { return [] }
        var out = [R?](repeating: nil, count: items.count)
        let chunk = max(1, items.count / 32)
        let chunks = (items.count + chunk - 1) / chunk
        let count = items.count
        out.withUnsafeMutableBufferPointer { buffer in
            items.withUnsafeBufferPointer { source in
                nonisolated(unsafe) let base = buffer.baseAddress!
                nonisolated(unsafe) let input = source.baseAddress!
                withoutActuallyEscaping(body) { body in
                    nonisolated(unsafe) let b = body
                    RecipeParallelism.concurrentPerform(iterations: chunks) { c in
                        for i in (c * chunk)..<min(count, (c + 1) * chunk) { base[i] = b(input[i]) }
                    }
                }
            }
        }
        return out.map { $0! }
    }
}
