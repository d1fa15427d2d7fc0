import CalibCore
import Foundation

/// An instrument simulated from its shipped static pinhole maps rather than
/// from SIMECH's optical model: `config/simulator/<instrument>.yaml`. What a
/// raw frame looks like (size as read out, pre/overscan, orientation relative
/// to the maps, gain, noise, keywords) is configuration.
public struct StaticModelInstrument: Sendable, Codable {
    public struct Keywords: Sendable, Codable {
        public var arm: String, binx: String, biny: String, readSpeed: String, prescan: String, overscan: String, gain: String
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
    }

    /// The DPR triplet of a simulated frame kind.
    public struct FrameKind: Sendable, Codable {
        public var catg: String, type: String, tech: String
    }

    public struct Frames: Sendable, Codable {
        public var bias: FrameKind
        public var arcPinhole: FrameKind
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
