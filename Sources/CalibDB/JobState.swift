/// The life of a job. Terminal states are kept forever (history), never deleted.
public enum JobState: String, Codable, Sendable, CaseIterable {
    /// Inputs or upstream calibrations are not complete yet.
    case waiting
    /// Runnable; a worker may claim it.
    case queued
    /// Claimed by a worker holding an unexpired lease.
    case running
    case succeeded
    /// Ran to the end but a QC metric is out of range; the product is kept on disk, never chosen as best.
    case qcFailed = "qc_failed"
    /// Failed after its allowed attempts; the error is in `reason`.
    case failed
    case cancelled
    /// A newer job for the same recipe, night and setup replaced it (e.g. a late sixth flat).
    case superseded

    public var isTerminal: Bool {
        switch self {
        case .succeeded, .qcFailed, .failed, .cancelled, .superseded: true
        case .waiting, .queued, .running: false
        }
    }
}
