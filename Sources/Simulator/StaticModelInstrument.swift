import CalibCore
import Foundation

/// An instrument simulated from its shipped static pinhole maps rather than
/// from SIMECH's optical model: `config/simulator/<instrument>.yaml`. What a
/// raw frame looks like (size as read out, pre/overscan, orientation relative
/// to the maps, gain, noise, keywords) is configuration.
public struct StaticModelInstrument: Sendable, Codable {
    public struct Keywords: Sendable, Codable {
        public var arm: String, binx: String, biny: String, readSpeed: String, prescan: String, overscan: String, gain: String
        /// Sub-integrations (written when an arm sets `ndit`).
        public var ndit: String?
    }

    /// The light-sensitive window of the turned frame, unbinned [start, end) columns and rows, where the
    /// pre/overscan columns do not describe it (X-shooter's NIR: columns 20-1076, rows 4-2044 after the 90° turn).
    public struct Window: Sendable, Codable {
        public var columns: [Int]
        public var rows: [Int]
    }

    public struct Arm: Sendable, Codable {
        public var name: String
        /// Unbinned columns and rows as read out, pre- and overscan included.
        public var rawWidth: Int
        public var rawHeight: Int
        /// Unbinned prescan columns at low x and overscan at high x of the raw frame.
        public var prescan: Int
        public var overscan: Int
        /// How the raw frame must be turned to reach the maps' frame (the profile's `detector.orientation`).
        public var orientation: FrameOrientation
        /// e⁻/ADU; read noise in e⁻; bias level in ADU.
        public var gain: Double
        public var readNoise: Double
        public var biasLevel: Double
        /// Unbinned PSF FWHM (px) on both axes.
        public var psfFWHM: Double
        /// Peak (ADU) of the map's most intense line; the others in proportion to their intensity (the faintest
        /// ThAr list lines then fall below the read noise, as they would on the instrument).
        public var brightestPeak: Double
        public var readSpeed: String
        public var slitKeyword: String
        /// Slit name written on flats (pinhole frames say `pinholeSlit`).
        public var flatSlit: String
        public var pinholeSlit: String
        /// Half the slit's length (arcsec): the nominal model's s at the slit's ends.
        public var slitHalfLength: Double
        /// Pixel-response non-uniformity: σ of the per-pixel gain (fraction), the same map on every frame of the arm.
        public var prnu: Double
        /// u-scale of the blaze (`StaticModelArmFormat.blaze`): 1 leaves ~15 % at an order's ends.
        public var blazeScale: Double
        /// Darks: how many, exposure (s) and the detector's dark current (e⁻/s, uniform).
        public var darkCount: Int
        public var darkExposure: Double
        public var darkCurrent: Double
        /// Biases written (nil: the simulator's `biasCount`; 0 for an arm without a bias, like an infrared array).
        public var biasCount: Int?
        /// The light-sensitive window when not the columns between pre- and overscan (nil: those, every row).
        public var scienceWindow: Window?
        /// Every lamp frame (flats, order definitions, arcs) is followed by a lamp-off frame of the same exposure
        /// (`frames.lampOff` with the lamp frame's TECH), and lamp frames carry the dark current too: an
        /// infrared arm's offset and dark go with the off frame.
        public var lampOff: Bool?
        /// NDIT written in `keywords.ndit` (nil: not written).
        public var ndit: Int?
        /// The arm's own read-mode keyword (nil: `keywords.readSpeed`).
        public var readSpeedKeyword: String?
        /// Keyword roles this arm's headers do not carry (e.g. `binx`, `biny`, `prescan`, `overscan`, `gain` for X-shooter's NIR).
        public var omitKeywords: [String]?
        /// Render arc lines where the shipped nominal model puts them (its (n, λ, s) surface plus the night
        /// shift) rather than at the map's own positions (nil: false). For measured pinhole tables (SOXS's),
        /// whose positions scatter 0.1-0.3 px about any smooth format: a real format is smooth, and the map
        /// stays what the recipes start from. The single-pinhole arc keeps the map's median offset from the
        /// model at the central pinhole (SOXS NIR's single-pinhole table sits 2 px along the dispersion from
        /// the multi-pinhole table's centre).
        public var linesOnModel: Bool?
        /// The arm's continuum lamps: one flat template (and one order-definition frame) per lamp.
        public var flatLamps: [FlatLamp]
    }

    /// A continuum lamp of an arm. It lights the orders the spectral format gives it (all orders when the
    /// format names no lamp) at `flatPeak` ADU per binned pixel at the blaze peak, the others at
    /// `otherOrders` × that; an order-definition frame (the pinhole) peaks at `orderDefinitionPeak`.
    public struct FlatLamp: Sendable, Codable {
        public var lamp: String
        /// ESO DPR TYPE of its flats and order-definition frames; nil: not taken (e.g. UVB's D2 order definition).
        public var flatType: String
        public var orderDefinitionType: String?
        public var flatPeak: Double
        public var orderDefinitionPeak: Double
        public var otherOrders: Double
        /// Flats in the template, and exposure times (s).
        public var flatCount: Int
        public var flatExposure: Double
        public var orderDefinitionExposure: Double
    }

    /// The DPR triplet of a simulated frame kind.
    public struct FrameKind: Sendable, Codable {
        public var catg: String, type: String, tech: String
    }

    public struct Frames: Sendable, Codable {
        public var bias: FrameKind
        public var arcPinhole: FrameKind
        public var dark: FrameKind
        /// A lamp-off frame's CATG and TYPE (its TECH is the lamp frame's); needed when an arm sets `lampOff`.
        public var lampOff: FrameKind?
        public var arcMultiPinhole: FrameKind
        /// The DPR CATG and TECH of flats and order definitions; their TYPE is each lamp's.
        public var flat: FrameKind
        public var orderDefinition: FrameKind
    }

    public var instrument: String
    /// The INSTRUME value written.
    public var instrumeValue: String
    /// Site longitude (degrees, east positive) for the night's clock.
    public var siteLongitudeDeg: Double
    public var keywords: Keywords
    public var frames: Frames
    public var arms: [Arm]

    public func arm(named name: String) -> Arm? { arms.first { $0.name == name } }
}
