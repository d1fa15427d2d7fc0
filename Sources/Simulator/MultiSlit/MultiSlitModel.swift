import Foundation

/// Configuration of the simulated multi-slit (MOS) or long-slit spectrograph
/// (`config/simulator/simmos.yaml`, `simls.yaml`). Decoded from YAML by the caller.
///
/// Conventions (calibd's orientation): detector x = column = spatial (along the slits),
/// y = row = dispersion; pixel centres at integers; mask coordinates (X, Y) in mm as in
/// `SlitMaskDescription`; wavelengths in nm.
///
/// The optics map a mask point P = (X, Y) and a wavelength λ to the detector as
///
///     d      = D₁ (1 + g X) (λ − λ_ref) + D₂ (λ − λ_ref)²                (dispersion offset, px)
///     y(P,λ) = Y_opt(P) + d
///     x(P,λ) = X_opt(P) + (c₁₀ + c₁₁ X) d + (c₂₀ + c₂₁ X) d²               (curved spectra)
///
/// with X_opt, Y_opt 2D polynomials of the (optionally flipped) mask coordinates: the OPT model,
/// the image of the mask at the reference wavelength (d = 0). Arc lines are tilted where Y_opt
/// varies along a slit (slit angle, rotation, distortion) and bent by the field gradient g.
public struct MultiSlitInstrumentModel: Codable, Sendable {
    public var name: String
    /// Mask description file, relative to `config/static/`.
    public var maskFile: String
    /// Laboratory line list of the arc lamp (`wavelength_Å amplitude ion`), relative to `config/static/`.
    public var arcLineList: String
    public var detector: MultiSlitDetectorModel
    public var optics: MultiSlitOpticsModel
    public var lamps: MultiSlitLampModel
}

public struct MultiSlitDetectorModel: Codable, Sendable {
    public var width: Int
    public var height: Int
    /// Bias level, ADU; read noise, e⁻; gain, e⁻/ADU.
    public var bias: Double
    public var readNoise: Double
    public var gain: Double
    /// Gaussian PSF σ, px (the same along both axes).
    public var psfSigma: Double
}

/// One term c Xᵖ Yᑫ of a polynomial of the mask coordinates (mm) giving detector pixels.
public struct MaskPolynomialTerm: Codable, Sendable {
    public var xPower: Int
    public var yPower: Int
    public var coefficient: Double
}

public struct MultiSlitOpticsModel: Codable, Sendable {
    /// λ_ref, nm: the wavelength at which the OPT model images the mask.
    public var referenceWavelength: Double
    /// Mask axes reversed before the polynomials (X → −X, Y → −Y): the flips of the optics.
    public var flipX: Bool
    public var flipY: Bool
    public var opticalX: [MaskPolynomialTerm]
    public var opticalY: [MaskPolynomialTerm]
    /// D₁ (px/nm), D₂ (px/nm²), g (1/mm).
    public var dispersion: Double
    public var dispersionQuadratic: Double
    public var dispersionFieldGradient: Double
    /// c₁₀, c₁₁ (1/mm), c₂₀ (1/px), c₂₁ (1/(px mm)).
    public var curvatureLinear: Double
    public var curvatureLinearField: Double
    public var curvatureQuadratic: Double
    public var curvatureQuadraticField: Double
}

public struct MultiSlitLampModel: Codable, Sendable {
    /// Flat lamp: e⁻ per pixel inside a slit per mm of slit width (along the dispersion), at the
    /// lamp's brightest row; the lamp's spectrum falls as a smooth function of the row.
    public var flatElectronsPerMillimetre: Double
    /// Arc: e⁻ per column in the strongest line of the list per mm of slit width; weaker lines
    /// scale with their tabulated amplitude. Lines with amplitude below `arcMinimumAmplitude` are not lit.
    public var arcElectronsPerMillimetre: Double
    public var arcMinimumAmplitude: Double
}
