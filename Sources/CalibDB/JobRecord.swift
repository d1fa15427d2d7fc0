import CalibCore
import Foundation
import GRDB

/// One unit of recipe work: a recipe over a fixed input set.
public struct JobRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var dedupeKey: String
    public var recipe: String
    public var recipeVersion: String
    /// Parameters as canonical JSON (sorted keys).
    public var parameters: String
    public var instrument: String
    public var night: String
    public var setup: String
    public var productType: ProductType
    public var state: JobState
    public var reason: String?
    public var attempts: Int
    public var maxAttempts: Int
    /// How many times a person asked for this job to be run again; part of its products' names.
    public var generation: Int
    /// Earliest time a retry may be claimed (back-off).
    public var notBefore: Date?
    public var leaseOwner: String?
    public var leaseExpiresAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?

    public enum Columns {
        public static let id = Column("id")
        public static let dedupeKey = Column("dedupe_key")
        public static let state = Column("state")
        public static let night = Column("night")
        public static let recipe = Column("recipe")
        public static let setup = Column("setup")
        public static let instrument = Column("instrument")
        public static let notBefore = Column("not_before")
        public static let leaseOwner = Column("lease_owner")
        public static let leaseExpiresAt = Column("lease_expires_at")
        public static let attempts = Column("attempts")
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// A job's input frame.
struct JobInputRecord: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "job_input"
    var jobId: Int64
    var frameId: Int64
    enum CodingKeys: String, CodingKey { case jobId = "job_id", frameId = "frame_id" }
}

/// One line of a job's history.
public struct JobEventRecord: Codable, Sendable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "job_event"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase
    public var id: Int64?
    public var jobId: Int64
    public var at: Date
    public var state: JobState
    public var message: String?
}
