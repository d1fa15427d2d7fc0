import Foundation
import GRDB

/// A database error that says nothing about the job being run but about the
/// database's surroundings: another process holds the write lock past the
/// busy timeout, the disk holding the file is full, or the file or its
/// directory became read-only. Such errors clear without anyone touching the
/// job, so the scheduler waits for them instead of spending an attempt.
public enum DatabaseFault: String, Sendable {
    case locked
    case full
    case readOnly

    /// The fault behind `error`, or nil for any other error (a constraint, a bug).
    public init?(_ error: any Error) {
        guard let error = error as? DatabaseError else { return nil }
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED: self = .locked
        case .SQLITE_FULL: self = .full
        case .SQLITE_READONLY, .SQLITE_CANTOPEN: self = .readOnly
        default: return nil
        }
    }
}
