import CalibCore
import CalibDB
import Foundation
import Logging
import PostgresNIO

/// The calibration registry on PostgreSQL: the same `CalibrationRegistry`
/// as `CalibrationDatabase` (SQLite), so that several hosts can share frames,
/// jobs, products, QC, pins and control state.
///
/// The queue is `PostgresJobQueue`'s (this forwards to it); frames, products,
/// association inputs, control commands and daemon state are in the
/// extensions beside this file (job history, attempt bookkeeping, QC
/// re-evaluation and monitoring in `+History`). `JobQueueContractTests` runs one set of
/// checks against both backends and compares their answers.
///
/// Where SQLite leaves an order unstated (a GRDB request without `ORDER BY`),
/// this states one (by id, or by the text in byte order, `COLLATE "C"`, which
/// is SQLite's comparison): callers and the association engine do not depend
/// on it (the engine breaks ties by id), but a listing should not change with
/// the server's locale.
///
/// Calls block the calling thread (see `BlockingPostgresPool`). The password
/// never appears in logs or errors.
public final class PostgresCalibrationDatabase: JobQueue, FrameRegistry, ProductRegistry, CalibrationLookup,
    ControlCommands, DaemonStateStore, JobHistory, AttemptBookkeeping, RegistryMonitoring {
    public let queue: PostgresJobQueue
    var pool: BlockingPostgresPool { queue.pool }
    public var location: PostgresLocation { queue.location }
    /// The location with its password as `***`: never the credentials.
    public var displayLocation: String { location.redacted }

    /// Connects and applies pending migrations (the queue's and the registry's, once, whichever host is first).
    public init(location: PostgresLocation, logger: Logger? = nil) throws {
        queue = try PostgresJobQueue(location: location, logger: logger)
    }

    /// Names of the migrations applied, in order.
    public func appliedMigrations() throws -> [String] { try queue.appliedMigrations() }

    // MARK: JobQueue (the queue's own implementation)

    public func ensureJob(_ planned: PlannedJob, now: Date) throws -> (job: JobRecord, created: Bool) {
        try queue.ensureJob(planned, now: now)
    }

    public func claimNextJob(owner: String, lease: TimeInterval, now: Date) throws -> JobRecord? {
        try queue.claimNextJob(owner: owner, lease: lease, now: now)
    }

    public func heartbeat(job: JobRecord, lease: TimeInterval, now: Date) throws {
        try queue.heartbeat(job: job, lease: lease, now: now)
    }

    public func complete(job: JobRecord, outcome: JobOutcome, products: [ProductDraft], now: Date) throws -> [ProductRecord] {
        try queue.complete(job: job, outcome: outcome, products: products, now: now)
    }

    public func completeAndClaimNext(job: JobRecord, outcome: JobOutcome, products: [ProductDraft], owner: String,
                                     lease: TimeInterval, now: Date) throws -> (products: [ProductRecord], next: JobRecord?) {
        try queue.completeAndClaimNext(job: job, outcome: outcome, products: products, owner: owner, lease: lease, now: now)
    }

    public func fail(job: JobRecord, error: String, retryAfter: TimeInterval, permanent: Bool, now: Date) throws {
        try queue.fail(job: job, error: error, retryAfter: retryAfter, permanent: permanent, now: now)
    }

    public func recoverLeases(now: Date, owner: String?) throws -> Int {
        try queue.recoverLeases(now: now, owner: owner)
    }

    // MARK: DaemonStateStore

    public func setDaemonState(_ key: String, _ value: String, now: Date) throws {
        try pool.withConnection { c in
            try pool.query(c, """
                INSERT INTO daemon_state (key, value, updated_at) VALUES (\(key), \(value), \(now))
                ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """)
        }
    }

    public func daemonState() throws -> [String: String] {
        try pool.withConnection { c in
            var state: [String: String] = [:]
            for row in try pool.query(c, "SELECT key, value FROM daemon_state") {
                let (key, value) = try row.decode((String, String).self)
                state[key] = value
            }
            return state
        }
    }

    public func isPaused() throws -> Bool {
        try pool.withConnection { c in
            try pool.query(c, "SELECT value FROM daemon_state WHERE key = 'paused'").first.map { try $0.decode(String.self) } == "1"
        }
    }
}
