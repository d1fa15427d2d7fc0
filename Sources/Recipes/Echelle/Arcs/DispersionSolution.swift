import Foundation

/// A global dispersion (and, with a slit variable, spatial) solution:
/// X = Σ cᵢⱼ(ₖ) nⁱ λʲ (sᵏ) and Y likewise (SOXSPIPE create_dispersion_map),
/// with n the physical order number, λ in nm, s in arcsec, X and Y in
/// pixels of the frame it was fitted on (pixel centres at integers).
public struct DispersionSolution: Sendable, Equatable {
    public var x: PolynomialSurface
    public var y: PolynomialSurface
    /// Orders the solution was fitted over, ascending.
    public var orders: [Int]
    /// Wavelength range of each order on the detector (slit 0), nm.
    public var wavelengthLimits: [Int: ClosedRange<Double>]
    /// Range of slit positions fitted (nil for a single-pinhole solution).
    public var slitRange: ClosedRange<Double>?

    public init(x: PolynomialSurface, y: PolynomialSurface, orders: [Int], wavelengthLimits: [Int: ClosedRange<Double>],
                slitRange: ClosedRange<Double>?) {
        self.x = x; self.y = y; self.orders = orders; self.wavelengthLimits = wavelengthLimits; self.slitRange = slitRange
    }

    public var hasSlit: Bool { x.degrees.count == 3 }

    /// Detector position of (n, λ, s); s is ignored by a single-pinhole solution.
    public func position(order: Int, wavelength: Double, slit: Double = 0) -> (x: Double, y: Double) {
        if hasSlit {
            return (x.evaluate(Double(order), wavelength, slit), y.evaluate(Double(order), wavelength, slit))
        }
        return (x.evaluate(Double(order), wavelength), y.evaluate(Double(order), wavelength))
    }

    /// λ (nm) of order n imaged on row `row` at slit position s, by Newton
    /// iteration on Y from `guess`; NaN if it does not converge to 1e-6 px.
    public func wavelength(order: Int, row: Double, slit: Double = 0, guess: Double) -> Double {
        var lam = guess
        let h = max(abs(guess) * 1e-6, 1e-9)
        for _ in 0..<50 {
            let f = position(order: order, wavelength: lam, slit: slit).y - row
            if abs(f) < 1e-6 { return lam }
            let d = (position(order: order, wavelength: lam + h, slit: slit).y - position(order: order, wavelength: lam - h, slit: slit).y) / (2 * h)
            guard d != 0, d.isFinite else { return .nan }
            lam -= f / d
        }
        return .nan
    }

    /// |dY/dλ| in px per nm at (n, λ, s), by central difference.
    public func dispersionPixelsPerNanometre(order: Int, wavelength: Double, slit: Double = 0) -> Double {
        let h = wavelength * 1e-6
        return abs(position(order: order, wavelength: wavelength + h, slit: slit).y
            - position(order: order, wavelength: wavelength - h, slit: slit).y) / (2 * h)
    }
}
