import CalibCore
import Foundation

/// How arc lines lean and bend across a long slit: each identified line is followed from the
/// slit centre towards both edges, and the shift of its centre, Δy(x, y₀) = y(x) − y₀, is
/// fitted as one polynomial surface in the spatial position x and the line's row y₀ at the
/// slit centre. This is the along-slit variation of the IDS model (SpectraPy's IDS
/// coefficients varying along the slit; PypeIt's "tilts"): the wavelength of pixel (x, y)
/// is λ(y₀) with y₀ solving y₀ + Δy(x, y₀) = y.
///
/// Each line is measured in bands of `columnStep` columns (median across the band), by the
/// Gaussian fit of `ArcLineFinder` over ±`halfWidth` rows, from the centre outwards (each
/// band starts from its neighbour's centre, so curved lines are followed), and only
/// between the slit edges less `edgeMargin` pixels. Lines below `minimumSNR` at the centre
/// are not traced. A band whose fit fails or jumps by more than one pixel from its
/// neighbour ends that side of the line. Pixels, oriented frame (x along the slit).
/// `slopedBackground` as in `ArcLineFinder` (the recipe passes its finder's choice on).
/// With `firstMomentWindow` > 0 a band's centre is instead the settled first moment within
/// ± that many rows of the band's mean (`EdgeCentroid.peak`), as `MultiSlitWavelengthSolution`
/// centres lines at the slit centre: a Gaussian in a fixed window is biased by a few
/// hundredths of a pixel on a blurred top-hat line, and the lean is measured against the
/// centre row found by the same estimator.
public struct ArcLineTilt: Sendable {
    public var columnStep: Int = 4
    public var halfWidth: Int = 3
    public var slopedBackground = false
    public var firstMomentWindow = 0
    public var edgeMargin: Double = 3
    public var minimumSNR: Double = 30
    public var spatialDegree: Int = 2
    public var spectralDegree: Int = 2
    public var clipSigma: Double = 3

    public init() {}

    public struct Result: Sendable {
        /// Δy(x, y₀), pixels.
        public var surface: PolynomialSurface
        public var rms: Double
        public var linesTraced: Int
        public var points: Int
        public var clippedPoints: Int
        /// Largest |Δy| over the traced points' fit, pixels: how far the lines lean over the slit.
        public var maximumShift: Double

        /// Row at the slit centre of the line passing through (x, y): solves y₀ + Δy(x, y₀) = y by fixed-point iteration.
        public func centreRow(x: Double, y: Double) -> Double {
            var y0 = y
            for _ in 0..<4 { y0 = y - surface.evaluate(x, y0) }
            return y0
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// - Parameters:
    ///   - arc: bias-subtracted arc, oriented.
    ///   - lines: rows of the identified lines at the slit centre (frame rows) and their SNR.
    ///   - centre: the column where `lines` were measured.
    ///   - left, right: the slit's edges x(y).
    public func run(_ arc: Image, lines: [(row: Double, snr: Double)], centre: Double,
                    left: (Double) -> Double, right: (Double) -> Double) throws(Failure) -> Result {
        var points: [[Double]] = [], shifts: [Double] = []
        var traced = 0
        for line in lines where line.snr >= minimumSNR {
            let lo = left(line.row) + edgeMargin, hi = right(line.row) - edgeMargin
            let centreBand = Int((centre - Double(columnStep) / 2).rounded())
            var found = 0
            for direction in [1, -1] {
                var expected = line.row
                var band = direction > 0 ? centreBand : centreBand - columnStep
                while Double(band) >= lo, Double(band + columnStep - 1) <= hi {
                    guard let y = measure(arc, columns: band..<(band + columnStep), near: expected), abs(y - expected) <= 1 else { break }
                    points.append([Double(band) + Double(columnStep - 1) / 2, line.row])
                    shifts.append(y - line.row)
                    expected = y
                    found += 1
                    band += direction * columnStep
                }
            }
            if found > 0 { traced += 1 }
        }
        guard traced > spectralDegree, points.count > (spatialDegree + 1) * (spectralDegree + 1) * 2 else {
            throw Failure(description: "only \(traced) lines could be followed along the slit (\(points.count) points)")
        }
        let fit: PolynomialSurfaceFit.Result
        do {
            fit = try PolynomialSurfaceFit(degrees: [spatialDegree, spectralDegree], clipSigma: clipSigma, maxIterations: 10)
                .fit(points: points, values: shifts)
        } catch {
            throw Failure(description: "tilt surface fit failed: \(error)")
        }
        let maximum = zip(points, fit.clipped).filter { !$0.1 }.map { abs(fit.surface.evaluate($0.0)) }.max() ?? .nan
        return Result(surface: fit.surface, rms: fit.rms, linesTraced: traced, points: points.count,
                      clippedPoints: fit.clipped.filter { $0 }.count, maximumShift: maximum)
    }

    /// The line's centre in a band of columns, near row `expected`; nil if the Gaussian fit fails.
    public func measure(_ arc: Image, columns: Range<Int>, near expected: Double) -> Double? {
        let start = Int(expected.rounded())
        let rows = (start - halfWidth - 2)..<(start + halfWidth + 3)
        guard columns.lowerBound >= 0, columns.upperBound <= arc.width, rows.lowerBound >= 0, rows.upperBound <= arc.height else { return nil }
        if firstMomentWindow > 0 {
            let reach = firstMomentWindow + 4
            let band = (start - reach)..<(start + reach + 1)
            guard band.lowerBound >= 0, band.upperBound <= arc.height else { return nil }
            var profile = [Double](repeating: 0, count: band.count)
            for (k, y) in band.enumerated() {
                for x in columns { profile[k] += Double(arc[x, y]) }
                profile[k] /= Double(columns.count)
            }
            guard let centre = EdgeCentroid.peak(in: profile, near: expected - Double(band.lowerBound), window: firstMomentWindow)
            else { return nil }
            return centre + Double(band.lowerBound)
        }
        let values = ArcLineFinder.spectrum(arc, columns: columns, rows: rows)
        // The local maximum nearest the expected row, then a Gaussian about it.
        let local = start - rows.lowerBound
        var peak = local
        for k in max(halfWidth, local - 1)...min(values.count - halfWidth - 1, local + 1) where values[k] > values[peak] { peak = k }
        guard let fit = ArcLineFinder.gaussian(values, around: peak, halfWidth: halfWidth, sloped: slopedBackground && halfWidth >= 3)
        else { return nil }
        return fit.position + Double(rows.lowerBound)
    }
}
