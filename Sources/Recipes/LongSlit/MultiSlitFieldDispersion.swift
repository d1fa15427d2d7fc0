import CalibCore
import Foundation

/// The IDS model across the field of a multi-slit mask: one smooth surface for all slits,
///
///     y(λ; slit) = y_ref(slit) + Δ(λ, x_c),
///
/// where y_ref is the row of the reference wavelength λ_ref on the slit's centre track, x_c a
/// field coordinate of the slit (the OPT column of its centre at λ_ref), and Δ a polynomial in
/// (λ, x_c) fitted to every slit's identified lines at once (weighted by SNR², the centroids'
/// inverse variance, with clipping). The rows must be those where each line crosses the slit's
/// centre track (the midpoint of its CRV edges, reached with the slit's Δy(x, y₀)): there they
/// are the spectrum of one mask point, smooth across the field; at a fixed column they also
/// carry each slit's own angle and curvature (on SIMMOS 0.09 px RMS against 0.02 px). The spectrograph's dispersion varies
/// smoothly over the detector (SIMMOS: a dispersion quadratic in λ with a gradient across the
/// field), so a slit's λ(y) is its neighbours' shifted to its own λ_ref row: a slit whose lines
/// are too few or too faint to be solved alone gets a solution from its λ_ref row only (given by
/// the OPT model or one identified line). Rows of the oriented frame (pixels), wavelengths in the
/// catalog's unit (Å); x_c in pixels. NaN rows or wavelengths are left out of the fit.
public struct MultiSlitFieldDispersion: Sendable {
    public var wavelengthDegree: Int
    public var fieldDegree: Int
    public var clipSigma: Double

    public init(wavelengthDegree: Int = 4, fieldDegree: Int = 2, clipSigma: Double = 4) {
        self.wavelengthDegree = wavelengthDegree; self.fieldDegree = fieldDegree; self.clipSigma = clipSigma
    }

    /// One slit's measured lines at its centre column.
    public struct Slit: Sendable {
        public var id: String
        /// Field coordinate x_c of the slit, pixels (the OPT column of its centre at λ_ref).
        public var centre: Double
        /// Row of λ_ref on the slit's centre track, pixels.
        public var referenceRow: Double
        public var lines: [(wavelength: Double, row: Double, snr: Double)]
        public init(id: String, centre: Double, referenceRow: Double, lines: [(wavelength: Double, row: Double, snr: Double)]) {
            self.id = id; self.centre = centre; self.referenceRow = referenceRow; self.lines = lines
        }
    }

    public struct Result: Sendable {
        /// Δ(λ, x_c), pixels.
        public var surface: PolynomialSurface
        /// RMS of the kept lines about the surface, pixels (unweighted).
        public var rms: Double
        public var linesUsed: Int
        public var linesClipped: Int
        /// Row of λ on the centre track of a slit at field coordinate `centre` whose λ_ref row is `referenceRow`.
        public func row(of lambda: Double, centre: Double, referenceRow: Double) -> Double {
            referenceRow + surface.evaluate(lambda, centre)
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public func fit(_ slits: [Slit]) throws(Failure) -> Result {
        var points: [[Double]] = [], values: [Double] = [], weights: [Double] = []
        for slit in slits where slit.referenceRow.isFinite && slit.centre.isFinite {
            for line in slit.lines where line.row.isFinite && line.wavelength.isFinite && line.snr > 0 {
                points.append([line.wavelength, slit.centre])
                values.append(line.row - slit.referenceRow)
                weights.append(line.snr * line.snr)
            }
        }
        let terms = (wavelengthDegree + 1) * (fieldDegree + 1)
        guard values.count > 2 * terms else {
            throw Failure(description: "only \(values.count) lines in \(slits.count) slits for a \(terms)-term field model")
        }
        let fit: PolynomialSurfaceFit.Result
        do {
            fit = try PolynomialSurfaceFit(degrees: [wavelengthDegree, fieldDegree], clipSigma: clipSigma, maxIterations: 10)
                .fit(points: points, values: values, weights: weights)
        } catch {
            throw Failure(description: "field dispersion fit failed: \(error)")
        }
        let kept = values.indices.filter { !fit.clipped[$0] }
        let rms = (kept.map { pow(values[$0] - fit.surface.evaluate(points[$0]), 2) }.reduce(0, +) / Double(max(1, kept.count))).squareRoot()
        return Result(surface: fit.surface, rms: rms, linesUsed: kept.count, linesClipped: values.count - kept.count)
    }
}
