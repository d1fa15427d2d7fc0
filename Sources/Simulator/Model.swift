import Foundation

// MARK: - Instrument configuration (Codable; loaded by the caller from YAML/JSON)
//
// Coordinate conventions used throughout the model:
//  * Detector plane coordinates (u, v) in millimetres, origin at the detector centre.
//    u runs along x (FITS NAXIS1, cross-dispersion), v along y (rows, dispersion).
//  * Pixel coordinates: x = u / pitch + (size - 1) / 2, y = v / pitch + (size - 1) / 2,
//    pitch = physicalSizeMillimetres / size. Pixel centres sit on integer coordinates.
//  * Wavelengths in nanometres, angles in degrees (in the configuration), slit positions in arcsec.

/// The whole instrument: one entry per spectrograph arm.
public struct EchelleInstrumentModel: Codable, Sendable {
    /// Free-form instrument name.
    public var name: String
    /// The arms (e.g. "BLUE" and "RED").
    public var arms: [EchelleArmModel]

    public init(name: String, arms: [EchelleArmModel]) {
        self.name = name
        self.arms = arms
    }

    /// The arm with the given name (case-insensitive), if any.
    public func arm(named name: String) -> EchelleArmModel? {
        arms.first { $0.name.caseInsensitiveCompare(name) == .orderedSame }
    }
}

/// One echelle arm: grating, camera, cross-disperser, slit, detector and lamps.
public struct EchelleArmModel: Codable, Sendable {
    /// Arm name, e.g. "BLUE".
    public var name: String
    public var echelle: EchelleGratingModel
    public var camera: CameraModel
    public var crossDisperser: CrossDisperserModel
    /// Low-order optical distortion added in the detector plane (see `DistortionTerm`).
    public var distortion: [DistortionTerm]
    public var slit: SlitModel
    public var throughput: ThroughputModel
    public var detector: DetectorModel
    /// Continuum (flat-field) lamp seen through the full slit.
    public var flatLamp: ContinuumLampModel
    /// A second flat-field lamp (a deuterium lamp: hot and blue, bright in the blue orders and fading to
    /// the red), as X-shooter's UVB arm has; nil for an arm flat-fielded with `flatLamp` alone.
    /// Its flats are written with lamp name D2 (`ExposureKind.d2Flat`).
    public var d2FlatLamp: ContinuumLampModel?
    /// Continuum lamp seen through the single central pinhole (order-definition frames).
    public var orderDefinitionLamp: ContinuumLampModel
    public var arcLamp: ArcLampModel
    public var science: ScienceSourceModel
    public var nightDisplacement: NightDisplacementLimits
    /// Scattered light of flat exposures (absent: none).
    public var scatteredLight: ScatteredLightModel?

    public init(name: String, echelle: EchelleGratingModel, camera: CameraModel,
                crossDisperser: CrossDisperserModel, distortion: [DistortionTerm], slit: SlitModel,
                throughput: ThroughputModel, detector: DetectorModel, flatLamp: ContinuumLampModel,
                orderDefinitionLamp: ContinuumLampModel, arcLamp: ArcLampModel,
                science: ScienceSourceModel, nightDisplacement: NightDisplacementLimits, d2FlatLamp: ContinuumLampModel? = nil,
                scatteredLight: ScatteredLightModel? = nil) {
        self.d2FlatLamp = d2FlatLamp
        self.name = name; self.echelle = echelle; self.camera = camera
        self.crossDisperser = crossDisperser; self.distortion = distortion; self.slit = slit
        self.throughput = throughput; self.detector = detector; self.flatLamp = flatLamp
        self.orderDefinitionLamp = orderDefinitionLamp; self.arcLamp = arcLamp
        self.science = science; self.nightDisplacement = nightDisplacement
        self.scatteredLight = scatteredLight
    }
}

/// The echelle grating. Grating equation (off-plane / quasi-Littrow mount):
/// `m λ = σ⁻¹ cos γ (sin α + sin β)`, with σ⁻¹ = 1 / grooveDensity the groove spacing,
/// α = blazeAngle + incidenceOffset the in-plane angle of incidence, β the diffraction angle.
public struct EchelleGratingModel: Codable, Sendable {
    /// Groove density σ in grooves per millimetre.
    public var grooveDensityPerMillimetre: Double
    /// Blaze angle θ_B in degrees (facet normal relative to grating normal).
    public var blazeAngleDegrees: Double
    /// In-plane incidence angle minus blaze angle, α − θ_B, in degrees (0 = quasi-Littrow).
    public var incidenceOffsetDegrees: Double
    /// Off-plane angle γ in degrees.
    public var gammaDegrees: Double
    /// Lowest physical order delivered by the optics (candidate orders; only those on the detector are used).
    public var minimumOrder: Int
    /// Highest physical order delivered by the optics.
    public var maximumOrder: Int

    public init(grooveDensityPerMillimetre: Double, blazeAngleDegrees: Double, incidenceOffsetDegrees: Double,
                gammaDegrees: Double, minimumOrder: Int, maximumOrder: Int) {
        self.grooveDensityPerMillimetre = grooveDensityPerMillimetre; self.blazeAngleDegrees = blazeAngleDegrees
        self.incidenceOffsetDegrees = incidenceOffsetDegrees; self.gammaDegrees = gammaDegrees
        self.minimumOrder = minimumOrder; self.maximumOrder = maximumOrder
    }
}

/// The camera: a tan-projection (v = f tan(β − β₀), u = f tan δ) with its axis on the blaze direction.
public struct CameraModel: Codable, Sendable {
    /// Camera focal length f in millimetres.
    public var focalLengthMillimetres: Double
    /// Full width at half maximum of the (circular Gaussian) optical PSF on the detector, millimetres.
    public var psfFWHMMillimetres: Double

    public init(focalLengthMillimetres: Double, psfFWHMMillimetres: Double) {
        self.focalLengthMillimetres = focalLengthMillimetres; self.psfFWHMMillimetres = psfFWHMMillimetres
    }
}

/// Cross-disperser. Its angular deflection δ(λ) (radians) maps to u = f tan δ.
///  * `prism`: δ = angularFactor × (n(λ) − n(λ_ref)), with a Cauchy index n(λ) = A + B / λ²
///    (λ in nm, B in nm²). `angularFactor` is the effective deflection per unit index change of the
///    prism train (≈ sum over passes of apex-angle factors), in radians. Dispersion ∝ λ⁻³, so the
///    order spacing shrinks from the blue (high x) to the red (low x) side.
///  * `grating`: δ = asin(λ g) − asin(λ_ref g), g = grooveDensity (grooves/mm → 1e-6 per nm);
///    order spacing then grows toward the red.
public struct CrossDisperserModel: Codable, Sendable {
    /// "prism" or "grating".
    public var kind: String
    /// Wavelength (nm) deflected onto the detector centre line u = 0.
    public var referenceWavelengthNanometres: Double
    /// Cauchy A (dimensionless) — prism only.
    public var cauchyA: Double
    /// Cauchy B in nm² — prism only.
    public var cauchyBNanometres2: Double
    /// Effective angular factor (radians per unit refractive-index change) — prism only.
    public var angularFactor: Double
    /// Groove density in grooves/mm — grating only (0 for a prism).
    public var grooveDensityPerMillimetre: Double
    /// +1: blue toward high x; −1: blue toward low x.
    public var direction: Double

    public init(kind: String, referenceWavelengthNanometres: Double, cauchyA: Double, cauchyBNanometres2: Double,
                angularFactor: Double, grooveDensityPerMillimetre: Double, direction: Double) {
        self.kind = kind; self.referenceWavelengthNanometres = referenceWavelengthNanometres
        self.cauchyA = cauchyA; self.cauchyBNanometres2 = cauchyBNanometres2; self.angularFactor = angularFactor
        self.grooveDensityPerMillimetre = grooveDensityPerMillimetre; self.direction = direction
    }
}

/// One distortion term, added in the detector plane:
/// `Δu = dxMillimetres · ξ^xPower · η^yPower`, `Δv = dyMillimetres · ξ^xPower · η^yPower`,
/// with ξ = u / (physicalSize/2), η = v / (physicalSize/2) the undistorted normalised coordinates.
/// E.g. (xPower 0, yPower 2, dx 0.3) bows every order by 0.3 mm (20 px at 15 µm) between centre and ends.
public struct DistortionTerm: Codable, Sendable {
    public var xPower: Int
    public var yPower: Int
    /// Coefficient of the x (cross-dispersion) displacement, millimetres.
    public var dxMillimetres: Double
    /// Coefficient of the y (dispersion) displacement, millimetres.
    public var dyMillimetres: Double

    public init(xPower: Int, yPower: Int, dxMillimetres: Double, dyMillimetres: Double) {
        self.xPower = xPower; self.yPower = yPower; self.dxMillimetres = dxMillimetres; self.dyMillimetres = dyMillimetres
    }
}

/// The slit and the pinhole mask. The slit is imaged along +x; slit position s is in arcsec from the slit centre.
public struct SlitModel: Codable, Sendable {
    /// Full slit length in arcsec.
    public var lengthArcsec: Double
    /// Plate scale at the detector in arcsec per millimetre (along the slit).
    public var plateScaleArcsecPerMillimetre: Double
    /// Tilt of the slit image relative to the x axis, degrees (positive: +s moves toward +y).
    public var tiltDegrees: Double
    /// Slit positions (arcsec) of the pinholes of the multi-pinhole mask.
    public var pinholePositionsArcsec: [Double]

    public init(lengthArcsec: Double, plateScaleArcsecPerMillimetre: Double, tiltDegrees: Double,
                pinholePositionsArcsec: [Double]) {
        self.lengthArcsec = lengthArcsec; self.plateScaleArcsecPerMillimetre = plateScaleArcsecPerMillimetre
        self.tiltDegrees = tiltDegrees; self.pinholePositionsArcsec = pinholePositionsArcsec
    }
}

/// Total optical throughput apart from the echelle blaze: peak × exp(−½((λ − λ_peak)/width)²).
public struct ThroughputModel: Codable, Sendable {
    /// Peak efficiency (0…1).
    public var peak: Double
    /// Wavelength of peak efficiency, nm.
    public var peakWavelengthNanometres: Double
    /// Gaussian sigma of the efficiency curve, nm.
    public var widthNanometres: Double

    public init(peak: Double, peakWavelengthNanometres: Double, widthNanometres: Double) {
        self.peak = peak; self.peakWavelengthNanometres = peakWavelengthNanometres; self.widthNanometres = widthNanometres
    }
}

/// CCD detector. Physical size is fixed; `size` passed to the simulator only sets the pixel pitch
/// (binning = nominalPixels / size).
public struct DetectorModel: Codable, Sendable {
    /// Side of the square science area, millimetres.
    public var physicalSizeMillimetres: Double
    /// Unbinned pixel count along one side.
    public var nominalPixels: Int
    /// Overscan columns appended at high x for the unbinned detector (divided by the binning, minimum 4).
    public var overscanColumns: Int
    /// Gain, electrons per ADU.
    public var gainElectronsPerADU: Double
    /// Read noise, electrons rms.
    public var readNoiseElectrons: Double
    /// Bias level, ADU.
    public var biasLevelADU: Double
    /// Amplitude (ADU) of the fixed column-to-column bias pattern (science area only).
    public var biasColumnPatternADU: Double
    /// Amplitude (ADU) of the fixed row-to-row bias pattern (science area only).
    public var biasRowPatternADU: Double
    /// Dark current per unbinned pixel, electrons/s (scaled by binning² for binned pixels).
    public var darkCurrentElectronsPerSecond: Double
    /// Pixel response non-uniformity, fractional Gaussian sigma.
    public var prnuSigma: Double
    /// Fraction of (rendered) pixels that are cold (low response).
    public var coldPixelFraction: Double
    /// Response of a cold pixel / column relative to normal (0…1).
    public var coldPixelResponse: Double
    /// Fraction of (rendered) pixels that are hot.
    public var hotPixelFraction: Double
    /// Typical extra dark current of a hot pixel, electrons/s (actual values 0.5…2 × this).
    public var hotPixelElectronsPerSecond: Double
    /// Number of cold (low-response) columns.
    public var coldColumns: Int
    /// Number of hot columns.
    public var hotColumns: Int
    /// Extra dark current of each pixel in a hot column, electrons/s.
    public var hotColumnElectronsPerSecond: Double
    /// Cosmic-ray event rate, events per cm² per second.
    public var cosmicRayRatePerCm2PerSecond: Double
    /// Mean charge deposited per cosmic-ray pixel, electrons (exponentially distributed, +20% floor).
    public var cosmicRayElectronsPerPixel: Double
    /// Saturation level, ADU (≤ 65535).
    public var saturationADU: Double

    public init(physicalSizeMillimetres: Double, nominalPixels: Int, overscanColumns: Int,
                gainElectronsPerADU: Double, readNoiseElectrons: Double, biasLevelADU: Double,
                biasColumnPatternADU: Double, biasRowPatternADU: Double, darkCurrentElectronsPerSecond: Double,
                prnuSigma: Double, coldPixelFraction: Double, coldPixelResponse: Double,
                hotPixelFraction: Double, hotPixelElectronsPerSecond: Double, coldColumns: Int, hotColumns: Int,
                hotColumnElectronsPerSecond: Double, cosmicRayRatePerCm2PerSecond: Double,
                cosmicRayElectronsPerPixel: Double, saturationADU: Double) {
        self.physicalSizeMillimetres = physicalSizeMillimetres; self.nominalPixels = nominalPixels
        self.overscanColumns = overscanColumns; self.gainElectronsPerADU = gainElectronsPerADU
        self.readNoiseElectrons = readNoiseElectrons; self.biasLevelADU = biasLevelADU
        self.biasColumnPatternADU = biasColumnPatternADU; self.biasRowPatternADU = biasRowPatternADU
        self.darkCurrentElectronsPerSecond = darkCurrentElectronsPerSecond; self.prnuSigma = prnuSigma
        self.coldPixelFraction = coldPixelFraction; self.coldPixelResponse = coldPixelResponse
        self.hotPixelFraction = hotPixelFraction; self.hotPixelElectronsPerSecond = hotPixelElectronsPerSecond
        self.coldColumns = coldColumns; self.hotColumns = hotColumns
        self.hotColumnElectronsPerSecond = hotColumnElectronsPerSecond
        self.cosmicRayRatePerCm2PerSecond = cosmicRayRatePerCm2PerSecond
        self.cosmicRayElectronsPerPixel = cosmicRayElectronsPerPixel; self.saturationADU = saturationADU
    }
}

/// A continuum lamp: blackbody spectrum of the given colour temperature, scaled so that the brightest
/// pixel of a noise-free frame (PRNU = 1, at the rendered binning) reaches `peakCountsADU` above bias
/// in `referenceExposureSeconds` with lampScale 1. Counts scale linearly with exposure time.
public struct ContinuumLampModel: Codable, Sendable {
    /// Blackbody (colour) temperature, K.
    public var temperatureKelvin: Double
    /// Target peak counts per pixel (ADU above bias) at the reference exposure time.
    public var peakCountsADU: Double
    /// Reference exposure time, s.
    public var referenceExposureSeconds: Double
    /// If set, the spectrum is the blackbody times a logistic fall 1 / (1 + exp((λ − cutoff) / width)):
    /// a lamp that fades toward the red (a D2 lamp's continuum), nm.
    public var cutoffNanometres: Double?
    /// Width of that fall, nm (default 20).
    public var cutoffWidthNanometres: Double?

    public init(temperatureKelvin: Double, peakCountsADU: Double, referenceExposureSeconds: Double,
                cutoffNanometres: Double? = nil, cutoffWidthNanometres: Double? = nil) {
        self.temperatureKelvin = temperatureKelvin; self.peakCountsADU = peakCountsADU
        self.referenceExposureSeconds = referenceExposureSeconds
        self.cutoffNanometres = cutoffNanometres; self.cutoffWidthNanometres = cutoffWidthNanometres
    }

    /// Relative spectral radiance at λ (nm): blackbody × the optional red cutoff.
    public func spectrum(_ lambda: Double) -> Double {
        var b = SimMath.planck(lambda, temperature: temperatureKelvin)
        if let cutoffNanometres { b /= 1 + exp((lambda - cutoffNanometres) / (cutoffWidthNanometres ?? 20)) }
        return b
    }
}

/// Arc (ThAr) lamp. A line of tabulated relative amplitude A delivers
/// `electronsPerSecondPerUnitAmplitude × A × throughput(λ) × blaze(m, λ)` electrons per second per pinhole.
public struct ArcLampModel: Codable, Sendable {
    /// Electrons per second per unit tabulated amplitude per pinhole, before blaze and throughput.
    public var electronsPerSecondPerUnitAmplitude: Double
    /// Lines with a tabulated amplitude below this are not rendered.
    public var minimumRelativeIntensity: Double

    public init(electronsPerSecondPerUnitAmplitude: Double, minimumRelativeIntensity: Double) {
        self.electronsPerSecondPerUnitAmplitude = electronsPerSecondPerUnitAmplitude
        self.minimumRelativeIntensity = minimumRelativeIntensity
    }
}

/// An absorption line of the science target: continuum × (1 − depth · exp(−½((λ−λ₀)/σ)²)).
public struct AbsorptionLine: Codable, Sendable {
    public var wavelengthNanometres: Double
    /// Central depth 0…1.
    public var depth: Double
    /// Gaussian sigma, nm.
    public var sigmaNanometres: Double

    public init(wavelengthNanometres: Double, depth: Double, sigmaNanometres: Double) {
        self.wavelengthNanometres = wavelengthNanometres; self.depth = depth; self.sigmaNanometres = sigmaNanometres
    }
}

/// Science target: a point source (blackbody star with absorption lines) centred on the slit,
/// spatial profile = Gaussian seeing ⊗ PSF. No sky.
public struct ScienceSourceModel: Codable, Sendable {
    public var temperatureKelvin: Double
    /// Peak counts (ADU above bias) of the noise-free trace at the reference exposure time.
    public var peakCountsADU: Double
    public var referenceExposureSeconds: Double
    /// Seeing FWHM, arcsec.
    public var seeingFWHMArcsec: Double
    public var absorptionLines: [AbsorptionLine]

    public init(temperatureKelvin: Double, peakCountsADU: Double, referenceExposureSeconds: Double,
                seeingFWHMArcsec: Double, absorptionLines: [AbsorptionLine]) {
        self.temperatureKelvin = temperatureKelvin; self.peakCountsADU = peakCountsADU
        self.referenceExposureSeconds = referenceExposureSeconds; self.seeingFWHMArcsec = seeingFWHMArcsec
        self.absorptionLines = absorptionLines
    }
}

/// Limits of the night-to-night instrument displacement, drawn uniformly from the night seed.
/// The true instrument = nominal model followed by, in detector millimetres about the detector centre,
/// u' = (1+k)(cos θ u − sin θ v) + Δu + c η², v' = (1+k)(sin θ u + cos θ v) + Δv.
public struct NightDisplacementLimits: Codable, Sendable {
    /// Maximum |Δu|, |Δv| in unbinned (nominal) pixels.
    public var maxShiftPixels: Double
    /// Maximum |θ| in degrees.
    public var maxRotationDegrees: Double
    /// Maximum |k| (fractional scale change).
    public var maxScaleChange: Double
    /// Maximum |c| (extra order bowing at the detector ends) in unbinned pixels.
    public var maxCurvaturePixels: Double

    public init(maxShiftPixels: Double, maxRotationDegrees: Double, maxScaleChange: Double, maxCurvaturePixels: Double) {
        self.maxShiftPixels = maxShiftPixels; self.maxRotationDegrees = maxRotationDegrees
        self.maxScaleChange = maxScaleChange; self.maxCurvaturePixels = maxCurvaturePixels
    }
}
