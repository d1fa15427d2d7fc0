import CalibDB
import Foundation

/// A job as `jobs --json`, `job show --json` and `export jobs` give it
/// (`docs/schema/job.schema.json`). Its parameters are an object, not the
/// canonical JSON text the database keeps for the job's identity.
public struct JobJSON: Encodable, Sendable {
    public var id: Int64
    public var recipe: String
    public var recipeVersion: String
    public var parameters: JSONValue
    public var instrument: String
    public var night: String
    public var setup: [String: String]
    public var productType: String
    /// waiting, queued, running, succeeded, qc_failed, failed, cancelled, superseded.
    public var state: String
    @Nullable public var reason: String?
    public var attempts: Int
    public var maxAttempts: Int
    public var generation: Int
    @Nullable public var notBefore: Date?
    @Nullable public var leaseOwner: String?
    @Nullable public var leaseExpiresAt: Date?
    public var createdAt: Date
    public var updatedAt: Date
    @Nullable public var startedAt: Date?
    @Nullable public var finishedAt: Date?

    public init(_ j: JobRecord) {
        id = j.id ?? 0; recipe = j.recipe; recipeVersion = j.recipeVersion; parameters = JSONValue(parsing: j.parameters)
        instrument = j.instrument; night = j.night; setup = JSONOutput.setup(j.setup) ?? [:]; productType = j.productType.rawValue
        state = j.state.rawValue; reason = j.reason; attempts = j.attempts; maxAttempts = j.maxAttempts; generation = j.generation
        notBefore = j.notBefore; leaseOwner = j.leaseOwner; leaseExpiresAt = j.leaseExpiresAt; createdAt = j.createdAt
        updatedAt = j.updatedAt; startedAt = j.startedAt; finishedAt = j.finishedAt
    }
}
