import CalibCore
import CalibDB
import Foundation
import PostgresNIO

/// `calibctl`'s control commands on PostgreSQL, with SQLite's rules and words
/// (`CalibrationDatabase+Control`). Each reads the job `FOR UPDATE`, so a
/// request racing a worker's completion or another host's request waits for it
/// and then judges the job as it is.
extension PostgresCalibrationDatabase {
    public func rerun(jobId: Int64, requestedBy who: String, now: Date) throws -> JobRecord {
        try pool.transaction { c in
            guard var job = try lockedJob(c, jobId) else { throw ControlError(refusing: "no job \(jobId)") }
            switch job.state {
            case .running: throw ControlError(refusing: "job \(jobId) is running; cancel it first or let it finish")
            case .superseded: throw ControlError(refusing: "job \(jobId) was superseded by a newer input set; use `calibctl reprocess --night \(job.night) --recipe \(job.recipe)`")
            case .queued, .waiting: return job
            case .succeeded, .qcFailed, .failed, .cancelled: break
            }
            job.state = .queued
            job.attempts = 0
            job.generation += 1
            job.notBefore = nil
            job.reason = "re-run requested by \(who)"
            job.updatedAt = now
            job.finishedAt = nil
            try writeJob(c, job)
            try writeEvent(c, jobId, .queued, job.reason, now)
            // A hint for workers waiting on LISTEN (they poll as well).
            try pool.execute(c, "NOTIFY \(PostgresJobQueue.wakeUpChannel)")
            return job
        }
    }

    public func cancel(jobId: Int64, requestedBy who: String, now: Date) throws -> JobRecord {
        try pool.transaction { c in
            guard var job = try lockedJob(c, jobId) else { throw ControlError(refusing: "no job \(jobId)") }
            guard !job.state.isTerminal else { throw ControlError(refusing: "job \(jobId) already ended (\(job.state.rawValue))") }
            job.state = .cancelled
            job.reason = "cancelled by \(who)"
            // Revoking the lease fences the running worker's completion out, as on SQLite.
            job.leaseOwner = nil
            job.leaseExpiresAt = nil
            job.updatedAt = now
            job.finishedAt = now
            try writeJob(c, job)
            try writeEvent(c, jobId, .cancelled, job.reason, now)
            return job
        }
    }

    public func reprocess(night: String, recipe: String?, setup: Setup, force: Bool, requestedBy who: String,
                          now: Date) throws -> [JobRecord] {
        let candidates = try jobs(night: night, states: nil).filter { job in
            (recipe == nil || job.recipe == recipe)
                && ((try? Setup(parsing: job.setup)) ?? Setup()).satisfies(setup)
                && (job.state == .failed || job.state == .qcFailed || job.state == .cancelled || (force && job.state == .succeeded))
        }
        return try candidates.map { try rerun(jobId: $0.id!, requestedBy: who, now: now) }
    }

    public func job(id: Int64) throws -> JobRecord? { try queue.job(id: id) }

    public func jobs(night: String?, states: [JobState]?) throws -> [JobRecord] {
        let names = (states ?? []).map(\.rawValue)
        return try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: PostgresJobQueue.jobColumns) FROM job
                WHERE (\(night == nil) OR night = \(night)) AND (\(states == nil) OR state = ANY(\(names)))
                ORDER BY id
                """).map(PostgresJobQueue.job(from:))
        }
    }

    public func jobCounts() throws -> [JobState: Int] { try queue.jobCounts() }

    private func lockedJob(_ c: PostgresConnection, _ id: Int64) throws -> JobRecord? {
        try pool.query(c, "SELECT \(unescaped: PostgresJobQueue.jobColumns) FROM job WHERE id = \(id) FOR UPDATE").first
            .map(PostgresJobQueue.job(from:))
    }

    /// Writes every field a control command or attempt bookkeeping may change.
    func writeJob(_ c: PostgresConnection, _ job: JobRecord) throws {
        try pool.query(c, """
            UPDATE job SET state = \(job.state.rawValue), reason = \(job.reason), attempts = \(job.attempts),
                           generation = \(job.generation), not_before = \(job.notBefore), lease_owner = \(job.leaseOwner),
                           lease_expires_at = \(job.leaseExpiresAt), updated_at = \(job.updatedAt), finished_at = \(job.finishedAt)
            WHERE id = \(job.id!)
            """)
    }

    func writeEvent(_ c: PostgresConnection, _ jobId: Int64, _ state: JobState, _ message: String?, _ at: Date) throws {
        try pool.query(c, "INSERT INTO job_event (job_id, at, state, message) VALUES (\(jobId), \(at), \(state.rawValue), \(message))")
    }
}
