import CalibCore
import Foundation

/// The IDS model of one slit of a multi-slit mask at its centre column: lines identified with no
/// template by `LongSlitWavelengthSolution` (Hough vote, consensus, growth), then every identified
/// line re-centred by a first moment and λ(y) refitted.
///
/// Why the second pass: a Gaussian fitted in a window fixed on the brightest pixel is biased by up
/// to a few hundredths of a pixel when the line is a blurred top-hat (slit image ⊗ PSF ⊗ pixel) and
/// the window sits off-centre; the first moment in a window re-centred until it settles
/// (`EdgeCentroid.peak`) is exact to aliasing terms for a symmetric profile. The spectrum is the
/// mean (not the median) of `halfColumns` columns either side of the centre, which for a line
/// tilted linearly across them is the centre column's profile blurred symmetrically.
/// Lines with another catalog line within `blendDistance` px are left out of the refit: a
/// blend's moment is neither line's position. The refit weighs each line by SNR², its
/// centroid's inverse variance, so that a faint line's noise does not move the bright ones.
///
/// Along the slit (when `tilt` is set and the slit's CRV edges are given): every used line is
/// followed from the centre column to both edges in bands of `tilt.columnStep` columns, centred
/// by the same first moment, and the shifts fitted as Δy(x, y₀) (`ArcLineTilt`), so that
/// λ(x, y) = λ_c(y₀) where y₀ + Δy(x, y₀) = y: the IDS model varies along the slit and follows
/// lines tilted by the slit's angle and the field.
///
/// Units: rows of the oriented frame; wavelengths in the catalog's unit (Å).
public struct MultiSlitWavelengthSolution: Sendable {
    public var identification: LongSlitWavelengthSolution
    public var window: Int
    public var halfColumns: Int
    public var degree: Int
    public var blendDistance: Double
    public var clipSigma: Double
    /// How lines are followed along the slit; nil: the centre column only.
    public var tilt: ArcLineTilt?

    public init(identification: LongSlitWavelengthSolution, window: Int = 4, halfColumns: Int = 2, degree: Int = 4,
                blendDistance: Double = 6, clipSigma: Double = 4) {
        self.identification = identification; self.window = window; self.halfColumns = halfColumns
        self.degree = degree; self.blendDistance = blendDistance; self.clipSigma = clipSigma
    }

    public struct Line: Sendable {
        public var wavelength: Double
        /// Re-centred row at the slit centre column.
        public var row: Double
        public var snr: Double
        public var residualPixels: Double
        public var used: Bool
    }

    public struct Result: Sendable {
        /// λ(y): the polynomial in the frame row (second variable unused).
        public var polynomial: PolynomialSurface
        public var lines: [Line]
        public var rmsPixels: Double
        public var identificationRMS: Double
        /// The lines' shift along the slit, Δy(x, y₀) in pixels; nil when not traced.
        public var tilt: ArcLineTilt.Result?
        public init(polynomial: PolynomialSurface, lines: [Line], rmsPixels: Double, identificationRMS: Double) {
            self.polynomial = polynomial; self.lines = lines; self.rmsPixels = rmsPixels; self.identificationRMS = identificationRMS
        }
        public func wavelength(atRow y: Double) -> Double { polynomial.evaluate(y, 0) }
        /// λ at pixel (x, y) of the slit: the tilted line through it followed back to the centre column.
        public func wavelength(x: Double, y: Double) -> Double { wavelength(atRow: tilt?.centreRow(x: x, y: y) ?? y) }
        /// The row where λ falls at the centre column (Newton's method from `guess`).
        public func row(of lambda: Double, near guess: Double) -> Double {
            var y = guess
            for _ in 0..<30 {
                let step = (wavelength(atRow: y) - lambda) / (wavelength(atRow: y + 0.5) - wavelength(atRow: y - 0.5))
                y -= step
                if abs(step) < 1e-10 { break }
            }
            return y
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// - Parameter edges: the slit's CRV edges x(y); with `tilt` set, the lines are followed between them.
    public func run(_ arc: Image, slitCentre: Double, catalog: [Double],
                    edges: (low: @Sendable (Double) -> Double, high: @Sendable (Double) -> Double)? = nil) throws(Failure) -> Result {
        let first: LongSlitWavelengthSolution.Result
        do { first = try identification.run(arc, slitCentre: slitCentre, catalog: catalog) } catch {
            throw Failure(description: error.description)
        }
        let centre = Int(slitCentre.rounded())
        let columns = max(0, centre - halfColumns)...min(arc.width - 1, centre + halfColumns)
        var spectrum = [Double](repeating: 0, count: arc.height)
        for x in columns { for y in 0..<arc.height { spectrum[y] += Double(arc[x, y]) } }
        spectrum = spectrum.map { $0 / Double(columns.count) }
        let dispersion = abs(first.solution.dispersion(at: Double(first.rows.count) / 2))
        var lines: [Line] = []
        for match in first.solution.used {
            let blended = catalog.contains { $0 != match.wavelength && abs($0 - match.wavelength) / dispersion < blendDistance }
            let start = match.position + Double(first.rows.lowerBound)
            guard let row = EdgeCentroid.peak(in: spectrum, near: start, window: window) else { continue }
            lines.append(Line(wavelength: match.wavelength, row: row, snr: first.lines[match.line].snr, residualPixels: .nan, used: !blended))
        }
        let kept = lines.filter(\.used)
        guard kept.count > degree + 2 else {
            throw Failure(description: "only \(kept.count) unblended lines re-centred; degree \(degree) needs \(degree + 3)")
        }
        let fit: PolynomialSurfaceFit.Result
        do {
            fit = try PolynomialSurfaceFit(degrees: [degree, 0], clipSigma: clipSigma, maxIterations: 1)
                .fit(points: kept.map { [$0.row, 0] }, values: kept.map(\.wavelength), weights: kept.map { $0.snr * $0.snr })
        } catch {
            throw Failure(description: "λ(y) refit failed: \(error)")
        }
        var result = Result(polynomial: fit.surface, lines: lines, rmsPixels: 0, identificationRMS: first.solution.rmsPixels)
        var k = 0
        for i in lines.indices where lines[i].used {
            lines[i].used = !fit.clipped[k]; k += 1
        }
        for i in lines.indices { lines[i].residualPixels = result.row(of: lines[i].wavelength, near: lines[i].row) - lines[i].row }
        result.lines = lines
        let used = lines.filter(\.used).map(\.residualPixels)
        result.rmsPixels = (used.map { $0 * $0 }.reduce(0, +) / Double(max(1, used.count))).squareRoot()
        if var tilt, let edges {
            if tilt.firstMomentWindow == 0 { tilt.firstMomentWindow = window }
            do {
                result.tilt = try tilt.run(arc, lines: lines.filter(\.used).map { (row: $0.row, snr: $0.snr) }, centre: slitCentre,
                                           left: edges.low, right: edges.high)
            } catch {
                throw Failure(description: "the lines could not be followed along the slit: \(error)")
            }
        }
        return result
    }
}
