import Foundation

/// Scattered light of a continuum-lamp (flat) exposure: light diffused by the
/// grating, the cross-disperser and the camera optics that lands everywhere on
/// the detector, between the orders as well as under them.
///
/// Modelled as a smooth surface proportional to the light the row receives,
///
///     S(x, y) = fraction · L̄(y) · exp(−½ [((x/N − centreX) / widthX)² + ((y/N − centreY) / widthY)²])
///
/// with L̄(y) the row's mean order level (Σ over orders of the plateau rate ×
/// the slit image's width, divided by the summed widths: the orders' light in
/// the row over the pixels it falls on), in e⁻/s per pixel for lamp scale 1,
/// so S scales with the lamp and the exposure time like the orders do. The
/// Gaussian envelope (a broad halo about the optical axis, centre and widths
/// as fractions of the detector side, N the side in pixels) makes it vary
/// slowly across the detector. `fraction` is the halo's peak as a fraction of
/// the mean order level: 0.02 puts 1–2 % of the order flux between the
/// orders. Only (QTH) flat frames get it (D2 flats, order-definition, arc
/// and science exposures are unchanged); PRNU applies to it like to any photon.
///
/// A model without this key (or `fraction` 0) renders no scattered light.
public struct ScatteredLightModel: Codable, Sendable, Equatable {
    /// Peak of the halo as a fraction of the row's mean order level (0: none).
    public var fraction: Double
    /// Centre of the halo as a fraction of the detector side (0…1, x then y).
    public var centreX: Double
    public var centreY: Double
    /// Gaussian σ of the halo as a fraction of the detector side.
    public var widthX: Double
    public var widthY: Double

    public init(fraction: Double, centreX: Double = 0.5, centreY: Double = 0.5, widthX: Double = 0.6, widthY: Double = 0.8) {
        self.fraction = fraction; self.centreX = centreX; self.centreY = centreY; self.widthX = widthX; self.widthY = widthY
    }

    /// The halo envelope along x (index = column) for a detector of `size` pixels.
    func envelopeX(size: Int) -> [Double] {
        (0..<size).map { x in
            let z = (Double(x) / Double(size) - centreX) / widthX
            return exp(-0.5 * z * z)
        }
    }

    /// fraction · L̄(y) · the envelope along y (index = row), e⁻/s per pixel at lamp scale 1.
    /// `meanOrderLevel` is L̄(y).
    func rowRates(meanOrderLevel: [Double]) -> [Double] {
        let size = meanOrderLevel.count
        return (0..<size).map { y in
            let z = (Double(y) / Double(size) - centreY) / widthY
            return fraction * meanOrderLevel[y] * exp(-0.5 * z * z)
        }
    }
}
