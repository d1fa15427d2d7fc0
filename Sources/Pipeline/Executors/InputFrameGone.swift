import CalibCore

/// A job's input frame is no longer at any path it was recorded at with its recorded size
/// (deleted, replaced in place, or renamed outside the watched roots). Retrying cannot bring it back, so the job fails once with this reason
/// instead of three times with back-off; a person can restore the file and `calibctl rerun` it.
struct InputFrameGone: Error, PermanentRecipeFailure, CustomStringConvertible {
    let frameId: Int64
    let path: String

    var description: String { "input frame \(frameId) is gone: \(path)" }
}
