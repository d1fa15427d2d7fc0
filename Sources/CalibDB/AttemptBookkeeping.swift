import CalibCore
import Foundation

/// Attempts that ended without the recipe reporting (see `CalibrationDatabase+Crashes`):
/// crashes count against `max_attempts`, environmental postponements do not.
public protocol AttemptBookkeeping: Sendable {
    func recordCrash(job: JobRecord, description: String, retryAfter: TimeInterval, now: Date) throws -> JobRecord
    func postpone(job: JobRecord, reason: String, retryAfter: TimeInterval, now: Date) throws -> JobRecord
    func crashCount(ofJob id: Int64) throws -> Int
    func postponementCount(ofJob id: Int64) throws -> Int
    func recoverAbandonedJobs(deadOwners: Set<String>, excluding live: String?, now: Date) throws -> (requeued: Int, failed: Int)
}
