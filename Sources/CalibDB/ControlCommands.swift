import CalibCore
import Foundation

/// Requests a person makes through `calibctl` that change jobs.
public protocol ControlCommands: Sendable {
    func rerun(jobId: Int64, requestedBy who: String, now: Date) throws -> JobRecord
    func cancel(jobId: Int64, requestedBy who: String, now: Date) throws -> JobRecord
    func reprocess(night: String, recipe: String?, setup: Setup, force: Bool, requestedBy who: String,
                   now: Date) throws -> [JobRecord]
    func job(id: Int64) throws -> JobRecord?
    /// Jobs by id, optionally of a night and in some states.
    func jobs(night: String?, states: [JobState]?) throws -> [JobRecord]
    func jobCounts() throws -> [JobState: Int]
}
