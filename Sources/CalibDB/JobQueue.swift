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
    /// Records the outcome and products exactly as `complete` does and, in the
    /// same transaction, claims the oldest runnable job for `owner` as
    /// `claimNextJob` does: one commit per job cycle instead of two, which is
    /// what bounds a worker when every commit waits for a flush to disk.
    ///
    /// Fencing is unchanged: when the completion is refused (the lease was
    /// lost, or the job was completed already) it throws `LeaseLostError` and
    /// claims nothing; a worker that wants more work then calls
    /// `claimNextJob`, so a stale worker never holds a new lease taken under a
    /// refused result. `next` is nil when nothing is runnable.
    func completeAndClaimNext(job: JobRecord, outcome: JobOutcome, products: [ProductDraft], owner: String,
                              lease: TimeInterval, now: Date) throws -> (products: [ProductRecord], next: JobRecord?)
    /// Records a failed attempt (re-queued with back-off, or failed for good
    /// when attempts are exhausted or the error is `permanent`).
    func fail(job: JobRecord, error: String, retryAfter: TimeInterval, permanent: Bool, now: Date) throws
    /// Re-queues running jobs whose lease expired, or all of `owner`'s.
    func recoverLeases(now: Date, owner: String?) throws -> Int
}

extension CalibrationDatabase: JobQueue {}
