import CalibCore
import Foundation
import GRDB

/// Why a control request could not be carried out.
public struct ControlError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}

extension CalibrationDatabase {
    /// Queues a finished job to run again on the same inputs. Its new
    /// product supersedes the old one. A running or superseded job cannot be
    /// re-run (the latter has a newer input set: reprocess the night instead).
    @discardableResult
    public func rerun(jobId: Int64, requestedBy who: String, now: Date = Date()) throws -> JobRecord {
        try write { db in
            guard var job = try JobRecord.fetchOne(db, key: jobId) else { throw ControlError(message: "no job \(jobId)") }
            switch job.state {
            case .running: throw ControlError(message: "job \(jobId) is running; cancel it first or let it finish")
            case .superseded: throw ControlError(message: "job \(jobId) was superseded by a newer input set; use `calibctl reprocess --night \(job.night) --recipe \(job.recipe)`")
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
            try job.update(db)
            try Self.event(db, jobId, .queued, job.reason, now)
            return job
        }
    }

    /// Cancels a queued, waiting or running job. A running recipe finishes
    /// its current computation but its result is discarded (its lease is
    /// revoked, so completion is fenced out).
    @discardableResult
    public func cancel(jobId: Int64, requestedBy who: String, now: Date = Date()) throws -> JobRecord {
        try write { db in
            guard var job = try JobRecord.fetchOne(db, key: jobId) else { throw ControlError(message: "no job \(jobId)") }
            guard !job.state.isTerminal else { throw ControlError(message: "job \(jobId) already ended (\(job.state.rawValue))") }
            job.state = .cancelled
            job.reason = "cancelled by \(who)"
            job.leaseOwner = nil
            job.leaseExpiresAt = nil
            job.updatedAt = now
            job.finishedAt = now
            try job.update(db)
            try Self.event(db, jobId, .cancelled, job.reason, now)
            return job
        }
    }

    /// Re-queues the jobs of a night: failed, QC-failed and cancelled ones,
    /// and with `force` succeeded ones too. Filters by recipe and by setup
    /// terms the job's setup must satisfy. Returns the jobs re-queued.
    public func reprocess(night: String, recipe: String?, setup: Setup, force: Bool, requestedBy who: String,
                          now: Date = Date()) throws -> [JobRecord] {
        let candidates = try jobs(night: night).filter { job in
            (recipe == nil || job.recipe == recipe)
                && ((try? Setup(parsing: job.setup)) ?? Setup()).satisfies(setup)
                && (job.state == .failed || job.state == .qcFailed || job.state == .cancelled || (force && job.state == .succeeded))
        }
        return try candidates.map { try rerun(jobId: $0.id!, requestedBy: who, now: now) }
    }
}
