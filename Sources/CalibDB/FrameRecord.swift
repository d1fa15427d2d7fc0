import CalibCore
import Foundation
import GRDB

/// A raw frame as recorded: either usable (`status == ok`) or a problem with its reason.
public struct FrameRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "frame"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public enum Status: String, Codable, Sendable { case ok, problem }

    public var id: Int64?
    public var checksum: String
    public var path: String
    public var sizeBytes: Int64
    public var status: Status
    public var problem: String?
    public var instrument: String?
    public var frameType: FrameType
    public var lamp: String?
    public var night: String?
    public var setup: String?
    public var mjdObs: Double?
    public var exptime: Double?
    public var tplStart: String?
    public var tplNexp: Int?
    public var recordedAt: Date

    public enum Columns {
        public static let id = Column("id")
        public static let checksum = Column("checksum")
        public static let status = Column("status")
        public static let night = Column("night")
        public static let frameType = Column("frame_type")
        public static let instrument = Column("instrument")
    }

    public init(id: Int64? = nil, checksum: String, path: String, sizeBytes: Int64, status: Status, problem: String? = nil,
                instrument: String? = nil, frameType: FrameType = .unknown, lamp: String? = nil, night: String? = nil,
                setup: String? = nil, mjdObs: Double? = nil, exptime: Double? = nil, tplStart: String? = nil,
                tplNexp: Int? = nil, recordedAt: Date) {
        self.id = id; self.checksum = checksum; self.path = path; self.sizeBytes = sizeBytes; self.status = status
        self.problem = problem; self.instrument = instrument; self.frameType = frameType; self.lamp = lamp
        self.night = night; self.setup = setup; self.mjdObs = mjdObs; self.exptime = exptime
        self.tplStart = tplStart; self.tplNexp = tplNexp; self.recordedAt = recordedAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }

    /// The scheduler's view of a usable frame; nil for problems.
    public var summary: FrameSummary? {
        guard status == .ok, let id, let instrument, let night = night.flatMap(ObservingNight.init),
              let mjdObs else { return nil }
        return FrameSummary(
            id: id, checksum: checksum, instrument: instrument, type: frameType, lamp: lamp, night: night,
            setup: (try? Setup(parsing: setup ?? "")) ?? Setup(), mjd: mjdObs, exposureTime: exptime ?? 0,
            templateStart: tplStart, templateCount: tplNexp, recordedAt: recordedAt)
    }
}
