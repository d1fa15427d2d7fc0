import CalibCore
import Foundation
import GRDB

/// Attempts that ended without the recipe reporting: its process crashed, or
/// the daemon holding it died, or the environment (a full disk, a locked
/// database) stopped it. Crashes count against `max_attempts`, so that a
/// recipe that traps on its input cannot be retried for ever; environmental
/// faults do not, so that a night waits for a full disk to be cleared instead
/// of failing for good.
///
/// The crash count is taken from the job's append-only event history (events
/// whose message starts `attempt N crashed:`), so no schema change is needed
/// and `calibctl job show` shows every crash.
extension CalibrationDatabase {
    /// Records that the process running `job`'s attempt died without recording
    /// an outcome. Re-queued with back-off while attempts remain; then failed
    /// for good with `crashed N times: <description>`. Fenced by lease owner
    /// and attempt like `fail`, so a late report cannot overwrite a newer attempt.
    /// - Returns: the job as recorded.
    @discardableResult
    public func recordCrash(job: JobRecord, description: String, retryAfter: TimeInterval, now: Date = Date()) throws -> JobRecord {
        try write { db in
            guard var current = try JobRecord.fetchOne(db, key: job.id!), current.state == .running,
                  current.leaseOwner == job.leaseOwner, current.attempts == job.attempts
            else { throw LeaseLostError(jobId: job.id!) }
            try Self.endCrashedAttempt(db, &current, description: description, retryAfter: retryAfter, now: now)
            return current
        }
    }

    /// Re-queues `job` without counting the attempt: the recipe could not run
    /// because of its surroundings (disk full, workspace read-only, database
    /// locked), which will clear without anyone touching the job.
    @discardableResult
    public func postpone(job: JobRecord, reason: String, retryAfter: TimeInterval, now: Date = Date()) throws -> JobRecord {
        try write { db in
            guard var current = try JobRecord.fetchOne(db, key: job.id!), current.state == .running,
                  current.leaseOwner == job.leaseOwner, current.attempts == job.attempts
            else { throw LeaseLostError(jobId: job.id!) }
            let attempt = current.attempts
            current.attempts = max(current.attempts - 1, 0)
            current.state = .queued
            current.reason = reason
            current.leaseOwner = nil
            current.leaseExpiresAt = nil
            current.notBefore = now.addingTimeInterval(retryAfter)
            current.updatedAt = now
            try current.update(db)
            try Self.event(db, current.id!, .queued,
                           "attempt \(attempt) postponed (not counted): \(reason); retry after \(Int(retryAfter)) s", now)
            return current
        }
    }

    /// How many of this job's attempts crashed (their processes died), from its history.
    public func crashCount(ofJob id: Int64) throws -> Int {
        try read { db in try Self.crashCount(db, id) }
    }

    /// How many times this job was postponed by an environmental fault (for the back-off).
    public func postponementCount(ofJob id: Int64) throws -> Int {
        try read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job_event WHERE job_id = ? AND message LIKE 'attempt % postponed%'",
                             arguments: [id]) ?? 0
        }
    }

    static func crashCount(_ db: Database, _ id: Int64) throws -> Int {
        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM job_event WHERE job_id = ? AND message LIKE 'attempt % crashed:%'",
                         arguments: [id]) ?? 0
    }

    /// Ends a running attempt as crashed: an event naming the crash, then
    /// re-queued, or failed once attempts reach `max_attempts`.
    static func endCrashedAttempt(_ db: Database, _ job: inout JobRecord, description: String, retryAfter: TimeInterval, now: Date) throws {
        let crashes = try crashCount(db, job.id!) + 1
        job.leaseOwner = nil
        job.leaseExpiresAt = nil
        job.updatedAt = now
        if job.attempts < job.maxAttempts {
            job.state = .queued
            job.reason = description
            job.notBefore = now.addingTimeInterval(retryAfter)
            try job.update(db)
            try event(db, job.id!, .queued, "attempt \(job.attempts) crashed: \(description); retry after \(Int(retryAfter)) s", now)
        } else {
            job.state = .failed
            job.reason = crashes > 1 ? "crashed \(crashes) times: \(description)" : "crashed: \(description)"
            job.finishedAt = now
            try job.update(db)
            try event(db, job.id!, .failed, "attempt \(job.attempts) crashed: \(description); \(job.reason!)", now)
        }
    }

    /// After a restart, or when a lease lapsed: each running job whose holder
    /// is gone is treated as a crashed attempt (re-queued, or failed once its
    /// attempts reach the cap — without the cap a file that kills the daemon
    /// would be retried on every restart for ever).
    ///
    /// - Parameters:
    ///   - deadOwners: holders known to be dead (processes on this host that no longer exist): their jobs now.
    ///   - excluding: a live holder (this daemon) whose jobs are never taken, even with a lapsed lease:
    ///     it knows its own workers and records their end itself.
    /// - Returns: how many jobs were re-queued or failed.
    @discardableResult
    public func recoverAbandonedJobs(deadOwners: Set<String>, excluding live: String?, now: Date = Date()) throws -> (requeued: Int, failed: Int) {
        try write { db in
            let running = try JobRecord.filter(JobRecord.Columns.state == JobState.running.rawValue).fetchAll(db)
            var requeued = 0, failed = 0
            for var job in running where job.leaseOwner != live {
                let dead = job.leaseOwner.map { deadOwners.contains($0) } ?? true
                guard dead || (job.leaseExpiresAt ?? .distantPast) < now else { continue }
                let why = dead ? "the process holding attempt \(job.attempts) (\(job.leaseOwner ?? "none")) is gone"
                               : "the lease of attempt \(job.attempts) lapsed (its process stopped reporting)"
                try Self.endCrashedAttempt(db, &job, description: why, retryAfter: 0, now: now)
                if job.state == .failed { failed += 1 } else { requeued += 1 }
            }
            return (requeued, failed)
        }
    }
}
