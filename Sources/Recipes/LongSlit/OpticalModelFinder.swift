import CalibCore
import Foundation

/// The OPT model (SpectraPy's optical model): where the mask's slits fall on the detector at a
/// reference wavelength λ_ref, as two polynomials x(X, Y), y(X, Y) of the mask coordinates (mm),
/// found with no hand-placed region.
///
/// 1. **Spatial pattern and X flip.** The flat's mean profile over a band of rows (without a
///    flat: the arc's mean over all rows, every slit showing lines) is compared
///    with the slits' predicted x-intervals (nominal scale and centre from the profile) for both
///    flips, a grid of scales and every shift within `maxShift`: the best (flip, scale, shift).
/// 2. **Dispersion pattern and Y flip.** Each aperture's arc spectrum (central columns) is
///    scored at the rows where the line list predicts its lines (nominal dispersion, a grid of
///    dispersion scales), summed over apertures, for both Y flips and every shift: the row of
///    λ_ref in every aperture at once, so a line missing from one slit does not mislead.
/// 3. **Per aperture.** The λ_ref line is centred along y in each interior column
///    (`EdgeCentroid.peak`) and fitted as y(x); the slit's two edges are measured in the flat on
///    the rows around where that line meets them (`EdgeCentroid.edge`), giving the detector image
///    of each end of the slit's centre line. Without a flat, the edges are those of the λ_ref
///    line's own spatial profile (its light summed across the line, column by column), which is
///    the slit's image at λ_ref itself. A hole gives its arc spot's 2D centroid.
/// 4. **Fit.** x(X, Y) and y(X, Y) through those points (`PolynomialSurfaceFit`, σ-clipped).
///    A single slit (long-slit mode) fixes only x(X) linear through its two ends; its y(X) is fitted
///    along the line, with X from that linear x(X).
///
/// Frames in calibd's orientation (x spatial, y dispersion), bias subtracted. Units: px, mm, Å.
/// An aperture whose line or edges are not found is left out of the fit and counted in QC.
public struct OpticalModelFinder: Sendable {
    public static let name = "optmodel"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "referenceWavelength", "dispersion", "nominalScaleX", "nominalScaleY", "nominalCentreX", "nominalCentreY",
        "flipX", "flipY", "maxShift", "scaleTolerance", "degreeX", "degreeY", "edgeWindow", "lineWindow", "bandRows",
        "minimumLineAmplitude",
    ]

    /// λ_ref, Å; dispersion, px/Å (signed: positive when λ grows with y).
    public var referenceWavelength: Double
    public var dispersion: Double
    /// Nominal |∂x/∂X| and |∂y/∂Y|, px/mm; nominal image of the mask centre at λ_ref, px (NaN: detector centre).
    public var nominalScaleX: Double
    public var nominalScaleY: Double
    public var nominalCentreX: Double
    public var nominalCentreY: Double
    /// Nominal flips, preferred when the pattern cannot tell (a single centred slit).
    public var flipX: Bool
    public var flipY: Bool
    public var maxShift: Int
    public var scaleTolerance: Double
    public var degreeX: Int
    public var degreeY: Int
    public var edgeWindow: Int
    public var lineWindow: Int
    public var bandRows: Int
    /// Catalog lines weaker than this (tabulated amplitude) are not used in the pattern search.
    public var minimumLineAmplitude: Double

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        referenceWavelength = try r.value("referenceWavelength", default: 4359.56, in: 1000...50000)
        dispersion = try r.value("dispersion", default: 0.22, in: -100...100)
        nominalScaleX = try r.value("nominalScaleX", default: 4, in: 0.01...1000)
        nominalScaleY = try r.value("nominalScaleY", default: 4, in: 0.01...1000)
        nominalCentreX = try r.value("nominalCentreX", default: -1, in: -1...1e6)
        nominalCentreY = try r.value("nominalCentreY", default: -1, in: -1...1e6)
        flipX = try r.value("flipX", default: 0, in: 0...1) == 1
        flipY = try r.value("flipY", default: 0, in: 0...1) == 1
        maxShift = Int(try r.value("maxShift", default: 60, in: 0...2000))
        scaleTolerance = try r.value("scaleTolerance", default: 0.03, in: 0...0.3)
        degreeX = Int(try r.value("degreeX", default: 2, in: 1...5))
        degreeY = Int(try r.value("degreeY", default: 2, in: 1...5))
        edgeWindow = Int(try r.value("edgeWindow", default: 3, in: 2...20))
        lineWindow = Int(try r.value("lineWindow", default: 4, in: 2...20))
        bandRows = Int(try r.value("bandRows", default: 40, in: 1...2000))
        minimumLineAmplitude = try r.value("minimumLineAmplitude", default: 0, in: 0...1e12)
    }

    /// One aperture as found: the detector images (px) of mask points (mm) at λ_ref.
    public struct Aperture: Sendable {
        public var id: String
        public var isHole: Bool
        /// Mask points and their measured detector positions (a slit's two ends, or a hole's centre).
        public var maskPoints: [(x: Double, y: Double)]
        public var detectorPoints: [(x: Double, y: Double)]
        /// The λ_ref line across a slit, y(x), for the long-slit fit; empty for a hole.
        public var linePoints: [(x: Double, y: Double)]
        public var failure: String?
    }

    public struct Result: Sendable {
        public var x: PolynomialSurface
        public var y: PolynomialSurface
        public var flipX: Bool
        public var flipY: Bool
        /// Scale factors found relative to the nominal ones.
        public var scaleX: Double
        public var dispersionScale: Double
        public var apertures: [Aperture]
        public var rmsX: Double
        public var rmsY: Double
        public var metrics: [QCMeasurement]

        /// Detector position (px) of mask point (X, Y) (mm) at λ_ref.
        public func position(x maskX: Double, y maskY: Double) -> (x: Double, y: Double) {
            (x.evaluate(maskX, maskY), y.evaluate(maskX, maskY))
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// `flat` (bias subtracted, through-slit) is optional: nil measures the slits' ends on the arc alone.
    public func run(flat: Image?, arc: Image, mask: SlitMaskDescription, catalog: LineCatalog) throws(Failure) -> Result {
        if let flat, flat.width != arc.width || flat.height != arc.height {
            throw Failure(description: "flat \(flat.width)×\(flat.height) and arc \(arc.width)×\(arc.height) differ in size")
        }
        let apertures = mask.slits.map { ($0, false) } + mask.holes.map { ($0.asSlit, true) }
        let cx = nominalCentreX < 0 ? Double(arc.width - 1) / 2 : nominalCentreX
        let cy = nominalCentreY < 0 ? Double(arc.height - 1) / 2 : nominalCentreY

        // 1. Spatial pattern.
        let band = flat.map { EdgeCentroid.rowProfile($0, row: Int(cy.rounded()), halfRows: bandRows / 2) }
            ?? EdgeCentroid.rowProfile(arc, row: arc.height / 2, halfRows: arc.height)
        let spatial = spatialPattern(band, apertures: apertures.map(\.0), centre: cx)
        func predictedX(_ slit: SlitMaskDescription.Slit) -> Double {
            spatial.shift + cx + (spatial.flip ? -1 : 1) * spatial.scale * nominalScaleX * slit.x
        }
        func halfExtent(_ slit: SlitMaskDescription.Slit) -> Double {
            spatial.scale * nominalScaleX * slit.length / 2 * abs(cos(slit.angle * .pi / 180))
        }

        // 2. Dispersion pattern.
        let spectra = apertures.map { slit, _ -> [Double] in
            let centre = predictedX(slit), half = max(0.5, 0.3 * halfExtent(slit))
            let lo = max(0, Int((centre - half).rounded())), hi = min(arc.width - 1, Int((centre + half).rounded()))
            guard lo <= hi else { return [Double](repeating: 0, count: arc.height) }
            var s = [Double](repeating: 0, count: arc.height)
            for x in lo...hi { for y in 0..<arc.height { s[y] += Double(arc[x, y]) } }
            return s.map { $0 / Double(hi - lo + 1) }
        }
        let lineOffsets = zip(catalog.wavelengths, catalog.amplitudes).filter { $0.1 >= minimumLineAmplitude }
            .map { (offset: dispersion * ($0.0 - referenceWavelength), weight: $0.1.squareRoot()) }
        let dispersionPattern = dispersionPattern(spectra, apertures: apertures.map(\.0), centre: cy, lines: lineOffsets)
        func predictedY(_ slit: SlitMaskDescription.Slit) -> Double {
            dispersionPattern.shift + cy + (dispersionPattern.flip ? -1 : 1) * nominalScaleY * slit.y
        }

        // 3. Each aperture.
        var found: [Aperture] = []
        for (index, (slit, isHole)) in apertures.enumerated() {
            let guess = (x: predictedX(slit), y: predictedY(slit))
            let outcome = isHole
                ? measureHole(slit, arc: arc, guess: guess, halfExtent: halfExtent(slit))
                : measureSlit(slit, flat: flat, arc: arc, spectrum: spectra[index], guess: guess, halfExtent: halfExtent(slit), flipped: spatial.flip)
            found.append(outcome)
        }

        // 4. Fit.
        let good = found.filter { $0.failure == nil }
        guard !good.isEmpty else {
            throw Failure(description: "no slit of mask \(mask.name) was found: \(found.compactMap(\.failure).prefix(3).joined(separator: "; "))")
        }
        var maskPoints: [[Double]] = [], xs: [Double] = [], ys: [Double] = []
        for a in good {
            for (m, d) in zip(a.maskPoints, a.detectorPoints) { maskPoints.append([m.x, m.y]); xs.append(d.x); ys.append(d.y) }
        }
        let xFit: PolynomialSurfaceFit.Result, yFit: PolynomialSurfaceFit.Result
        do {
            if mask.isLongSlit {
                // Only the two ends fix x along one slit: x linear in X; y along the line itself.
                let a = good[0], slit = mask.slits[0]
                xFit = try PolynomialSurfaceFit(degrees: [1, 0], clipSigma: 100, maxIterations: 1).fit(points: maskPoints, values: xs)
                let x0 = a.detectorPoints[0].x, x1 = a.detectorPoints[1].x
                let along = a.linePoints.map { p -> [Double] in
                    let s = -slit.length / 2 + (p.x - x0) / (x1 - x0) * slit.length
                    let m = slit.point(along: s)
                    return [m.x, m.y]
                }
                yFit = try PolynomialSurfaceFit(degrees: [degreeY, 0], clipSigma: 4, maxIterations: 10)
                    .fit(points: along, values: a.linePoints.map(\.y))
            } else {
                let n = maskPoints.count
                let dx = min(degreeX, max(1, Int(Double(n).squareRoot()) - 1)), dy = min(degreeY, max(1, Int(Double(n).squareRoot()) - 1))
                xFit = try PolynomialSurfaceFit(degrees: [dx, dx], clipSigma: 4, maxIterations: 10).fit(points: maskPoints, values: xs)
                yFit = try PolynomialSurfaceFit(degrees: [dy, dy], clipSigma: 4, maxIterations: 10).fit(points: maskPoints, values: ys)
            }
        } catch {
            throw Failure(description: "OPT model fit failed: \(error)")
        }
        let metrics = [
            QCMeasurement("aperturesExpected", Double(apertures.count), unit: "", "slits and reference holes in the mask description"),
            QCMeasurement("aperturesFound", Double(good.count), unit: "", "apertures whose λ_ref image was measured"),
            QCMeasurement("optRMSX", xFit.rms, unit: "px", "RMS of the measured positions about x(X, Y)"),
            QCMeasurement("optRMSY", yFit.rms, unit: "px", "RMS of the measured positions about y(X, Y)"),
            QCMeasurement("flipX", spatial.flip ? 1 : 0, unit: "", "1 when mask X runs against detector x"),
            QCMeasurement("flipY", dispersionPattern.flip ? 1 : 0, unit: "", "1 when mask Y runs against detector y"),
            QCMeasurement("scaleX", spatial.scale * nominalScaleX, unit: "px/mm", "mask-to-detector scale along the slits found by the pattern search"),
            QCMeasurement("dispersionScale", dispersionPattern.scale, unit: "", "dispersion found relative to the nominal one"),
        ]
        return Result(x: xFit.surface, y: yFit.surface, flipX: spatial.flip, flipY: dispersionPattern.flip, scaleX: spatial.scale,
                      dispersionScale: dispersionPattern.scale, apertures: found, rmsX: xFit.rms, rmsY: yFit.rms, metrics: metrics)
    }

    // MARK: - Pattern searches

    /// Best flip, scale and shift (px) of the slits' predicted x-intervals against the flat's
    /// band profile (normalised to its 90th percentile, clipped at 1, mean removed): the sum of
    /// the profile inside the intervals, by prefix sums.
    func spatialPattern(_ profile: [Double], apertures: [SlitMaskDescription.Slit], centre: Double)
        -> (flip: Bool, scale: Double, shift: Double) {
        let sorted = profile.filter(\.isFinite).sorted()
        let reference = sorted.isEmpty ? 1 : max(sorted[Int(0.9 * Double(sorted.count - 1))], 1e-30)
        var normalised = profile.map { $0.isFinite ? min($0 / reference, 1) : 0 }
        let mean = normalised.reduce(0, +) / Double(max(1, normalised.count))
        normalised = normalised.map { $0 - mean }
        var prefix = [0.0]
        for v in normalised { prefix.append(prefix.last! + v) }
        func inside(_ lo: Double, _ hi: Double) -> Double {
            let a = min(max(0, Int(lo.rounded())), normalised.count), b = min(max(0, Int(hi.rounded()) + 1), normalised.count)
            return b > a ? prefix[b] - prefix[a] : 0
        }
        var best = (score: -Double.infinity, flip: flipX, scale: 1.0, shift: 0.0)
        let steps = Int((scaleTolerance / 0.002).rounded())
        for flip in [flipX, !flipX] {
            for k in -steps...steps {
                let scale = 1 + Double(k) * 0.002
                let spans = apertures.map { slit -> (Double, Double) in
                    let c = centre + (flip ? -1 : 1) * scale * nominalScaleX * slit.x
                    let h = scale * nominalScaleX * slit.length / 2 * abs(cos(slit.angle * .pi / 180))
                    return (c - h, c + h)
                }
                for shift in -maxShift...maxShift {
                    let d = Double(shift)
                    let score = spans.reduce(0) { $0 + inside($1.0 + d, $1.1 + d) }
                    // Strictly better only: ties keep the nominal flip, scale 1 and the smaller shift.
                    if score > best.score + 1e-9 { best = (score, flip, scale, d) }
                }
            }
        }
        return (best.flip, best.scale, best.shift)
    }

    /// Best Y flip, dispersion scale and shift (px) of the predicted line rows against every
    /// aperture's spectrum (each normalised to its maximum and widened by a running maximum of
    /// ±3 px, so that the nominal model's small errors per slit still meet the line).
    func dispersionPattern(_ spectra: [[Double]], apertures: [SlitMaskDescription.Slit], centre: Double,
                           lines: [(offset: Double, weight: Double)]) -> (flip: Bool, scale: Double, shift: Double) {
        let widened = spectra.map { s -> [Double] in
            let peak = s.max() ?? 0
            guard peak > 0 else { return s.map { _ in 0 } }
            return s.indices.map { y in
                (max(0, y - 3)...min(s.count - 1, y + 3)).reduce(-Double.infinity) { max($0, s[$1]) } / peak
            }
        }
        let height = spectra.first?.count ?? 0
        var best = (score: -Double.infinity, flip: flipY, scale: 1.0, shift: 0.0)
        for flip in [flipY, !flipY] {
            for k in -10...10 {
                let scale = 1 + Double(k) * 0.005
                for shift in -maxShift...maxShift {
                    var score = 0.0
                    for (spectrum, slit) in zip(widened, apertures) {
                        let reference = centre + Double(shift) + (flip ? -1 : 1) * nominalScaleY * slit.y
                        for line in lines {
                            let y = Int((reference + scale * line.offset).rounded())
                            if y >= 0, y < height { score += line.weight * spectrum[y] }
                        }
                    }
                    if score > best.score + 1e-9 { best = (score, flip, scale, Double(shift)) }
                }
            }
        }
        return (best.flip, best.scale, best.shift)
    }

    // MARK: - Measurements

    func measureSlit(_ slit: SlitMaskDescription.Slit, flat: Image?, arc: Image, spectrum: [Double],
                     guess: (x: Double, y: Double), halfExtent: Double, flipped: Bool) -> Aperture {
        var aperture = Aperture(id: slit.id, isHole: false, maskPoints: slit.ends, detectorPoints: [], linePoints: [], failure: nil)
        // The λ_ref line: the brightest row near the prediction in the slit's central spectrum.
        let searchHalf = 6
        let lo = max(0, Int(guess.y.rounded()) - searchHalf), hi = min(arc.height - 1, Int(guess.y.rounded()) + searchHalf)
        guard lo < hi, let peakRow = (lo...hi).max(by: { spectrum[$0] < spectrum[$1] }),
              let lineRow = EdgeCentroid.peak(in: spectrum, near: Double(peakRow), window: lineWindow) else {
            aperture.failure = "\(slit.id): the λ_ref line was not found near row \(Int(guess.y))"
            return aperture
        }
        // The slit's edges at that row: on the flat, or where the line itself starts and ends.
        let edgeSource: [Double]
        if let flat {
            edgeSource = EdgeCentroid.rowProfile(flat, row: Int(lineRow.rounded()), halfRows: 3)
        } else {
            edgeSource = lineProfile(arc, locus: { _ in lineRow }, columns: guess.x - halfExtent - 12...guess.x + halfExtent + 12)
        }
        let level = edgeSource[min(max(0, Int(guess.x.rounded())), edgeSource.count - 1)]
        guard level > 0,
              let left0 = EdgeCentroid.edge(in: edgeSource, near: guess.x - halfExtent, rising: true, window: edgeWindow, minimumStep: 0.3 * level),
              let right0 = EdgeCentroid.edge(in: edgeSource, near: guess.x + halfExtent, rising: false, window: edgeWindow, minimumStep: 0.3 * level)
        else {
            aperture.failure = "\(slit.id): the slit's edges were not found near x = \(Int(guess.x))"
            return aperture
        }
        // The λ_ref line across the slit, y(x), in the fully lit columns.
        var line: [(x: Double, y: Double)] = []
        let first = Int((left0 + 2).rounded(.up)), last = Int((right0 - 2).rounded(.down))
        if first <= last {
            for x in first...last {
                if let y = EdgeCentroid.peak(in: EdgeCentroid.column(arc, x: x), near: lineRow, window: lineWindow) {
                    line.append((Double(x), y))
                }
            }
        }
        guard !line.isEmpty else {
            aperture.failure = "\(slit.id): the λ_ref line could not be centred across the slit"
            return aperture
        }
        let lineFit = try? PolynomialSurfaceFit(degrees: [min(2, line.count - 1), 0], clipSigma: 4, maxIterations: 5)
            .fit(points: line.map { [$0.x, 0] }, values: line.map(\.y))
        func lineY(_ x: Double) -> Double { lineFit?.surface.evaluate(x, 0) ?? line.map(\.y).reduce(0, +) / Double(line.count) }
        aperture.linePoints = line
        var ends: [(x: Double, y: Double)] = []
        if let flat {
            // Each end of the slit: where its edge meets the λ_ref line. The edge is measured on the
            // rows around that point and interpolated linearly to the line's row.
            for (start, rising) in [(left0, true), (right0, false)] {
                var x = start, y = lineY(start)
                for _ in 0..<3 {
                    let row = Int(y.rounded())
                    var rows: [Double] = [], edges: [Double] = []
                    for r in (row - 6)...(row + 6) where r >= 0 && r < flat.height {
                        let p = EdgeCentroid.rowProfile(flat, row: r, halfRows: 0)
                        if let e = EdgeCentroid.edge(in: p, near: x, rising: rising, window: edgeWindow, minimumStep: 0.3 * level) {
                            rows.append(Double(r)); edges.append(e)
                        }
                    }
                    guard rows.count >= 3, let fit = try? PolynomialSurfaceFit(degrees: [1, 0], clipSigma: 4, maxIterations: 5)
                        .fit(points: rows.map { [$0, 0] }, values: edges) else { break }
                    x = fit.surface.evaluate(y, 0)
                    y = lineY(x)
                }
                ends.append((x, y))
            }
        } else {
            // The line's light summed across it along its fitted path: the slit's image at λ_ref.
            let profile = lineProfile(arc, locus: lineY, columns: left0 - 12...right0 + 12)
            for (start, rising) in [(left0, true), (right0, false)] {
                guard let x = EdgeCentroid.edge(in: profile, near: start, rising: rising, window: edgeWindow, minimumStep: 0.3 * level) else {
                    aperture.failure = "\(slit.id): the λ_ref line's end was not found near x = \(Int(start))"
                    return aperture
                }
                ends.append((x, lineY(x)))
            }
        }
        // Mask ends in the order of `slit.ends` (lower mask X first): the low-x edge unless X is flipped.
        aperture.detectorPoints = flipped ? [ends[1], ends[0]] : ends
        return aperture
    }

    /// The arc's light summed over ±(`lineWindow` + 1) rows about `locus(x)` in each column of
    /// `columns` (background: the median of the 3 rows beyond each side), zero elsewhere: a
    /// line's spatial profile, which is a slit's top-hat blurred by the PSF.
    func lineProfile(_ arc: Image, locus: (Double) -> Double, columns: ClosedRange<Double>) -> [Double] {
        var out = [Double](repeating: 0, count: arc.width)
        let half = lineWindow + 1
        let lo = max(0, Int(columns.lowerBound.rounded(.down))), hi = min(arc.width - 1, Int(columns.upperBound.rounded(.up)))
        guard lo <= hi else { return out }
        for x in lo...hi {
            let centre = Int(locus(Double(x)).rounded())
            guard centre - half - 3 >= 0, centre + half + 3 < arc.height else { continue }
            var border = (1...3).flatMap { [arc[x, centre - half - $0], arc[x, centre + half + $0]] }
            let background = RobustStatistics.medianInPlace(&border)
            var sum = 0.0
            for y in (centre - half)...(centre + half) { sum += Double(arc[x, y]) - background }
            out[x] = sum
        }
        return out
    }

    /// A reference hole: the 2D centroid of its arc spot at λ_ref.
    func measureHole(_ hole: SlitMaskDescription.Slit, arc: Image, guess: (x: Double, y: Double), halfExtent: Double) -> Aperture {
        var aperture = Aperture(id: hole.id, isHole: true, maskPoints: [(hole.x, hole.y)], detectorPoints: [], linePoints: [], failure: nil)
        var centre = guess
        // Brightest pixel near the prediction, then moments in a box re-centred until they settle.
        let search = 6
        var best = (value: -Double.infinity, x: 0, y: 0)
        for y in max(0, Int(guess.y) - search)...min(arc.height - 1, Int(guess.y) + search) {
            for x in max(0, Int(guess.x) - search)...min(arc.width - 1, Int(guess.x) + search) where Double(arc[x, y]) > best.value {
                best = (Double(arc[x, y]), x, y)
            }
        }
        centre = (Double(best.x), Double(best.y))
        let hx = Int(halfExtent.rounded(.up)) + edgeWindow, hy = hx
        for _ in 0..<6 {
            let x0 = Int(centre.x.rounded()), y0 = Int(centre.y.rounded())
            guard x0 - hx - 2 >= 0, x0 + hx + 2 < arc.width, y0 - hy - 2 >= 0, y0 + hy + 2 < arc.height else {
                aperture.failure = "\(hole.id): the hole's spot is too close to the frame's border"
                return aperture
            }
            // Background: median of the box's frame one pixel outside it.
            var border: [Float] = []
            for x in (x0 - hx - 1)...(x0 + hx + 1) { border += [arc[x, y0 - hy - 1], arc[x, y0 + hy + 1]] }
            for y in (y0 - hy)...(y0 + hy) { border += [arc[x0 - hx - 1, y], arc[x0 + hx + 1, y]] }
            let background = RobustStatistics.medianInPlace(&border)
            var sum = 0.0, mx = 0.0, my = 0.0
            for y in (y0 - hy)...(y0 + hy) {
                for x in (x0 - hx)...(x0 + hx) {
                    let v = Double(arc[x, y]) - background
                    sum += v; mx += v * Double(x); my += v * Double(y)
                }
            }
            guard sum > 0 else {
                aperture.failure = "\(hole.id): no light in the hole's spot near (\(x0), \(y0))"
                return aperture
            }
            let next = (x: mx / sum, y: my / sum)
            let settled = abs(next.x - centre.x) < 1e-6 && abs(next.y - centre.y) < 1e-6
            centre = next
            if settled { break }
        }
        aperture.detectorPoints = [centre]
        return aperture
    }
}
