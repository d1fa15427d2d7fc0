import CalibCore
import Foundation

/// A job's history and what it was made from (`calibctl job show`, the runner's inputs and timings).
public protocol JobHistory: Sendable {
    /// The input frames of a job, in time order (`mjd_obs`, then id).
    func inputs(ofJob id: Int64) throws -> [FrameListing]
    /// How each upstream calibration was chosen at planning, by product type.
    func calibrationChoices(ofJob id: Int64) throws -> [CalibrationDatabase.CalibrationChoiceRecord]
    func calibrations(ofJob id: Int64) throws -> [ProductType: ProductRecord]
    /// The job's events, oldest first.
    func events(ofJob id: Int64) throws -> [JobEventRecord]
    /// Records (or replaces) the timing of one attempt; negative phases are stored as 0.
    func record(timing t: JobTiming, now: Date) throws
    /// Timings of a job's attempts (nil: every job's), by job then attempt.
    func timings(ofJob id: Int64?) throws -> [JobTiming]
}
