import Foundation

/// What the scheduler needs to know of a recorded raw frame.
public struct FrameSummary: Sendable, Hashable, Codable {
    public var id: Int64
    public var checksum: String
    public var instrument: String
    public var type: FrameType
    public var lamp: String?
    public var night: ObservingNight
    public var setup: Setup
    /// Exposure start, MJD (UTC).
    public var mjd: Double
    public var exposureTime: Double
    public var templateStart: String?
    public var templateCount: Int?
    /// When calibd recorded the frame (drives the settle time).
    public var recordedAt: Date

    public init(id: Int64, checksum: String, instrument: String, type: FrameType, lamp: String? = nil,
                night: ObservingNight, setup: Setup, mjd: Double, exposureTime: Double,
                templateStart: String? = nil, templateCount: Int? = nil, recordedAt: Date) {
        self.id = id; self.checksum = checksum; self.instrument = instrument; self.type = type; self.lamp = lamp
        self.night = night; self.setup = setup; self.mjd = mjd; self.exposureTime = exposureTime
        self.templateStart = templateStart; self.templateCount = templateCount; self.recordedAt = recordedAt
    }
}
