import CalibCore
import Foundation

/// One arm's echelle format on tonight's detector, from the shipped static
/// files: the nominal model (where order n, wavelength λ and slit position s
/// fall, at the frame's binning), the spectral format (each order's
/// wavelength range on the detector and its flat lamp) and the night's shift.
/// It is the simulator's truth for order centres and edges: a continuum of
/// order n lights, on row y, wavelength λ(n, y) with Y(n, λ, 0) + shiftY = y,
/// centred at X(n, λ, 0) + shiftX and spanning the slit's image
/// X(n, λ, ±slitHalfLength) + shiftX (the slit's tilt along y is neglected
/// for continua: it moves a smooth spectrum by a fraction of a pixel).
///
/// Coordinates: pixel centres of the trimmed, oriented frame (the maps'),
/// without the prescan columns.
public struct StaticModelArmFormat: Sendable {
    public let model: any EchelleFormatModel
    public let format: SpectralFormat
    public let shift: (x: Double, y: Double)
    /// Half the slit's length (arcsec), the model's s at the slit's ends.
    public let slitHalfLength: Double

    public init(model: any EchelleFormatModel, format: SpectralFormat, shift: (x: Double, y: Double), slitHalfLength: Double) {
        self.model = model; self.format = format; self.shift = shift; self.slitHalfLength = slitHalfLength
    }

    /// The wavelength (nm) order `order` puts on row `row` at the slit's centre, nil when outside the order's
    /// range in the spectral format. Newton's method on Y(n, λ, 0), started between the range's ends.
    public func wavelength(order: Int, row: Double) -> Double? {
        guard let range = format.orders.first(where: { $0.order == order }) else { return nil }
        let low = range.minimumWavelength, high = range.maximumWavelength
        let yLow = model.position(order: order, wavelength: low, slit: 0).y + shift.y
        let yHigh = model.position(order: order, wavelength: high, slit: 0).y + shift.y
        guard yHigh != yLow else { return nil }
        var lambda = low + (row - yLow) / (yHigh - yLow) * (high - low)
        let step = 1e-4 * (high - low)
        for _ in 0..<8 {
            let y = model.position(order: order, wavelength: lambda, slit: 0).y + shift.y
            let slope = (model.position(order: order, wavelength: lambda + step, slit: 0).y + shift.y - y) / step
            guard slope != 0, slope.isFinite else { return nil }
            let delta = (row - y) / slope
            lambda += delta
            if abs(delta * slope) < 1e-6 { break }
        }
        return lambda >= low && lambda <= high ? lambda : nil
    }

    /// True order centre (x, px) on `row`, nil where the order does not reach.
    public func centre(order: Int, row: Double) -> Double? {
        wavelength(order: order, row: row).map { model.position(order: order, wavelength: $0, slit: 0).x + shift.x }
    }

    /// The slit's image on `row`: wavelength, centre and both ends (x, px).
    public func slitImage(order: Int, row: Double) -> (wavelength: Double, centre: Double, low: Double, high: Double)? {
        guard let lambda = wavelength(order: order, row: row) else { return nil }
        let a = model.position(order: order, wavelength: lambda, slit: -slitHalfLength).x + shift.x
        let b = model.position(order: order, wavelength: lambda, slit: slitHalfLength).x + shift.x
        return (lambda, model.position(order: order, wavelength: lambda, slit: 0).x + shift.x, min(a, b), max(a, b))
    }

    /// Relative blaze efficiency sinc²(π u), u = scale · n (λ − λ_c)/λ_c with λ_c the middle of the order's
    /// range: 1 at the middle, falling towards the ends without vanishing for scale ≤ 1 (u stays below ~0.7 in
    /// an order's full range). A grating's blaze in the scalar approximation (Schroeder, Astronomical Optics, §15.2).
    public func blaze(order: Int, wavelength: Double, scale: Double) -> Double {
        guard let range = format.orders.first(where: { $0.order == order }) else { return 0 }
        let centre = 0.5 * (range.minimumWavelength + range.maximumWavelength)
        let u = scale * Double(order) * (wavelength - centre) / centre
        guard abs(u) > 1e-9 else { return 1 }
        let s = sin(Double.pi * u) / (Double.pi * u)
        return s * s
    }
}
