import Foundation

/// APERO's analytic blaze of one echelle order: a squared sinc with a
/// distorted phase and a linear spectral-energy slope,
///
///     d  = x − L
///     φ  = 2π (d + Q d² + C d³) / P
///     B(x) = A · (sin φ / φ)² · (1 + s d)
///
/// with x the dispersion-axis pixel (row), A the amplitude (flux units of the
/// data), P the period (px), L the linear centre (px), Q (px⁻¹) and C (px⁻²)
/// the quadratic and cubic phase terms (the dispersion changes along the
/// order) and s the slope (px⁻¹). Source: APERO `apero/core/math/gen_math.py`
/// `sinc()` (the APERO pipeline, Cook et al. 2022, PASP 134, 114509), which
/// writes x' = 2π(X − dx + q₂dx² + q₃dx³)/P — there the three terms are in
/// d = X − dx, as here. The single-facet diffraction envelope of an echelle
/// is a sinc² in the phase difference across a groove (Schroeder,
/// *Astronomical Optics*, §13.2), which is why this form fits a flat lamp.
///
/// φ = 0 is evaluated by its limit (B = A · (1 + s d)); NaN parameters give NaN.
public struct SincBlazeModel: Sendable, Equatable, Codable {
    public var amplitude: Double
    public var period: Double
    public var centre: Double
    public var quadratic: Double
    public var cubic: Double
    public var slope: Double

    public init(amplitude: Double, period: Double, centre: Double, quadratic: Double = 0, cubic: Double = 0, slope: Double = 0) {
        self.amplitude = amplitude; self.period = period; self.centre = centre
        self.quadratic = quadratic; self.cubic = cubic; self.slope = slope
    }

    /// B(x) as defined above.
    @inlinable
    public func evaluate(_ x: Double) -> Double {
        let d = x - centre
        let phase = 2 * Double.pi * (d + quadratic * d * d + cubic * d * d * d) / period
        let s = Self.sinc(phase)
        return amplitude * s * s * (1 + slope * d)
    }

    /// sin φ / φ, with its Taylor series where the quotient loses precision.
    @inlinable
    public static func sinc(_ phase: Double) -> Double {
        abs(phase) < 1e-4 ? 1 - phase * phase / 6 : sin(phase) / phase
    }

    /// d(sin φ / φ)/dφ = (cos φ − sinc φ)/φ, series −φ/3 near 0.
    @inlinable
    static func sincDerivative(_ phase: Double) -> Double {
        abs(phase) < 1e-4 ? -phase / 3 : (cos(phase) - sin(phase) / phase) / phase
    }
}
