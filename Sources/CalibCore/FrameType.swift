/// What a raw frame is, as decided by an instrument profile's header rules.
///
/// The set is closed on purpose: recipes, the database schema (a CHECK
/// constraint) and `calibctl` all name these, so a profile cannot invent a
/// type nothing downstream understands. Lamps (several flat lamps on one arm)
/// are a separate attribute of a frame, not more cases here.
public enum FrameType: String, Codable, Sendable, CaseIterable, Comparable {
    case bias = "BIAS"
    case dark = "DARK"
    case flat = "FLAT"
    /// Single-pinhole continuum frame used to trace the order centres.
    case orderDefinition = "ORDERDEF"
    /// Arc lamp through a single pinhole (dispersion solution).
    case arcPinhole = "ARC_PINHOLE"
    /// Arc lamp through a multi-pinhole mask (spatial solution).
    case arcMultiPinhole = "ARC_MULTI_PINHOLE"
    /// Arc lamp spectrum through the slit (lamp fluxes, long-slit).
    case arcSlit = "ARC_SLIT"
    case science = "SCIENCE"
    case unknown = "UNKNOWN"

    public static func < (lhs: FrameType, rhs: FrameType) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

/// Product types, named as the field names them.
public enum ProductType: String, Codable, Sendable, CaseIterable {
    case masterBias = "MBIAS"
    case masterDark = "MDARK"
    case orderCentres = "ORDER_CENTRES"
    case masterFlat = "MFLAT"
    case flat = "FLAT"
    case blaze = "BLAZE"
    case e2ds = "E2DS"
    case dispersionMap = "DISP_MAP"
    case dispersionImage = "DISP_IMAGE"
    case lampFlux = "LAMP_FLUX"
    /// Long-slit curvature model: the slit's edges x(y) traced on a through-slit flat.
    case curvatureModel = "CRV_MODEL"
    /// Long-slit inverse dispersion solution: wavelength along the slit's spectrum.
    case inverseDispersionModel = "IDS_MODEL"
    /// Long-slit/MOS optical model: where the mask's slits fall on the detector at a reference wavelength.
    case opticalModel = "OPT_MODEL"
    /// Long-slit pixel flat: the through-slit flat divided by the lamp spectrum and the slit
    /// illumination, leaving the pixel-to-pixel response. Named as PypeIt names it (`pixelflat`).
    case pixelFlat = "PIXEL_FLAT"
}
