import CalibCore
import Foundation

/// The durable work queue as the scheduler and workers see it.
///
/// Everything a worker does to a job goes through these calls: claim with a
/// lease, heartbeat, complete or fail — each fenced by the lease owner and
/// attempt, so a worker that lost its lease (it stalled, its host died) can
/// never record a result over another's. Jobs are created idempotently by
/// their dedupe key. `CalibrationDatabase` implements it over SQLite, the
/// embedded default; a server database can implement it to let several hosts
/// share the work without the scheduler changing.
public protocol JobQueue: Sendable {
    /// Creates the job unless one with the same dedupe key exists.
    func ensureJob(_ planned: PlannedJob, now: Date) throws -> (job: JobRecord, created: Bool)
    /// Claims the oldest runnable job, leasing it to `owner` until `now + lease`.
    func claimNextJob(owner: String, lease: TimeInterval, now: Date) throws -> JobRecord?
    /// Extends the lease; throws `LeaseLostError` when the job is no longer this worker's.
    func heartbeat(job: JobRecord, lease: TimeInterval, now: Date) throws
    /// Records the outcome and products atomically; throws `LeaseLostError` when fenced out.
    func complete(job: JobRecord, outcome: JobOutcome, products: [ProductDraft], now: Date) throws -> [ProductRecord]
    /// Records a failed attempt (re-queued with back-off, or failed for good
    /// when attempts are exhausted or the error is `permanent`).
    func fail(job: JobRecord, error: String, retryAfter: TimeInterval, permanent: Bool, now: Date) throws
    /// Re-queues running jobs whose lease expired, or all of `owner`'s.
    func recoverLeases(now: Date, owner: String?) throws -> Int
}

extension CalibrationDatabase: JobQueue {}
