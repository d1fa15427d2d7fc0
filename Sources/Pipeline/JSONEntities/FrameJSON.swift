import CalibDB
import Foundation

/// A recorded raw frame as `frames --json`, `job show --json` and
/// `export frames` give it (`docs/schema/frame.schema.json`).
public struct FrameJSON: Encodable, Sendable {
    public var id: Int64
    public var checksum: String
    public var path: String
    /// Every path the same bytes were seen at, first one first.
    public var paths: [String]
    public var sizeBytes: Int64
    /// `ok` or `problem`.
    public var status: String
    @Nullable public var problem: String?
    @Nullable public var instrument: String?
    public var type: String
    @Nullable public var lamp: String?
    /// `YYYY-MM-DD`.
    @Nullable public var night: String?
    @Nullable public var setup: [String: String]?
    @Nullable public var mjdObs: Double?
    /// Seconds.
    @Nullable public var exptime: Double?
    @Nullable public var templateStart: String?
    @Nullable public var templateCount: Int?
    public var recordedAt: Date

    public init(_ listing: FrameListing) {
        let f = listing.frame
        id = f.id ?? 0; checksum = f.checksum; path = listing.paths.first ?? f.path; paths = listing.paths.isEmpty ? [f.path] : listing.paths
        sizeBytes = f.sizeBytes; status = f.status.rawValue; problem = f.problem; instrument = f.instrument
        type = f.frameType.rawValue; lamp = f.lamp; night = f.night; setup = JSONOutput.setup(f.setup)
        mjdObs = JSONOutput.finite(f.mjdObs); exptime = JSONOutput.finite(f.exptime)
        templateStart = f.tplStart; templateCount = f.tplNexp; recordedAt = f.recordedAt
    }
}
