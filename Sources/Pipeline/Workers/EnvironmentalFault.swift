import CalibDB
import CalibDBPostgres
import Foundation
import Glibc

/// A job stopped by its surroundings rather than by its inputs: the disk is
/// full, a quota is exceeded, the workspace is read-only or not writable by
/// the daemon, the database is locked by another process or its server cannot
/// be reached. Such a fault may
/// last minutes (an operator copying data, an `sqlite3` shell left open) and
/// clears without anyone touching the job, so the job is re-queued without
/// counting an attempt and retried with back-off until it runs.
///
/// The description names the path and what a person can do about it.
public struct EnvironmentalFault: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case noSpace, quotaExceeded, readOnly, permissionDenied, databaseLocked, databaseFull
        /// A PostgreSQL server that refuses or drops connections, shuts down, or is out of connection slots.
        case databaseUnavailable
    }

    public var kind: Kind
    /// The file or directory concerned.
    public var path: String
    /// What was seen (free space, the error text).
    public var detail: String

    public init(kind: Kind, path: String, detail: String) {
        self.kind = kind; self.path = path; self.detail = detail
    }

    public var description: String {
        let what: String
        switch kind {
        case .noSpace: what = "no space left on the device of \(path)"
        case .quotaExceeded: what = "disk quota exceeded for \(path)"
        case .readOnly: what = "\(path) is on a read-only file system"
        case .permissionDenied: what = "permission denied: calibd cannot write to \(path)"
        case .databaseLocked: what = "the calibration database \(path) is locked by another process"
        case .databaseFull: what = "no space left for the calibration database \(path)"
        case .databaseUnavailable: what = "the calibration database \(path) cannot be reached"
        }
        return "\(what)\(detail.isEmpty ? "" : " (\(detail))"); \(remedy); calibd retries on its own and does not count this as a failed attempt"
    }

    /// What a person can do.
    public var remedy: String {
        switch kind {
        case .noSpace, .databaseFull: "free space on that file system (or move the workspace to a larger one)"
        case .quotaExceeded: "raise the calibd user's quota or free space in the workspace"
        case .readOnly: "remount the file system read-write"
        case .permissionDenied: "give the calibd user write access (the workspace is 0750 and owned by calibd)"
        case .databaseLocked: "close the program holding the database open for writing (an sqlite3 shell, a backup tool)"
        case .databaseUnavailable:
            "start the PostgreSQL server or restore the network path to it, and check the user and password file in calibd.yaml"
        }
    }

    /// Below this much free space a failed product write is taken to be a full disk
    /// (cfitsio reports a full disk as a generic write error, without errno).
    static let lowSpaceBytes: UInt64 = 16 << 20

    /// The fault behind a failed write under `directory`, judged from the
    /// file system as it is now: read-only, not writable, or nearly full.
    /// Nil when the directory looks writable with space to spare (the error was something else).
    public static func diagnose(directory: String) -> EnvironmentalFault? {
        var existing = directory
        while !existing.isEmpty, existing != "/", access(existing, F_OK) != 0 {
            existing = (existing as NSString).deletingLastPathComponent
        }
        var fs = statvfs()
        if statvfs(existing, &fs) == 0 {
            if fs.f_flag & UInt(ST_RDONLY) != 0 { return EnvironmentalFault(kind: .readOnly, path: existing, detail: "") }
            let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
            if free < lowSpaceBytes { return EnvironmentalFault(kind: .noSpace, path: existing, detail: "\(free / 1024) KiB free") }
        }
        if access(existing, W_OK) != 0 {
            switch errno {
            case EROFS: return EnvironmentalFault(kind: .readOnly, path: existing, detail: "")
            case EACCES, EPERM: return EnvironmentalFault(kind: .permissionDenied, path: existing, detail: "")
            default: break
            }
        }
        return nil
    }

    /// The environmental fault behind `error`, if it is one: itself, a
    /// database fault (on `database`), or a POSIX error ENOSPC, EDQUOT,
    /// EROFS or EACCES (on `path` when the error does not name one).
    public static func classify(_ error: any Error, database: String, path: String? = nil) -> EnvironmentalFault? {
        if let fault = error as? EnvironmentalFault { return fault }
        if let fault = DatabaseFault(error) {
            switch fault {
            case .locked: return EnvironmentalFault(kind: .databaseLocked, path: database, detail: "\(error)")
            case .full: return EnvironmentalFault(kind: .databaseFull, path: database, detail: "")
            case .readOnly:
                let directory = (database as NSString).deletingLastPathComponent
                return diagnose(directory: directory) ?? EnvironmentalFault(kind: .readOnly, path: database, detail: "\(error)")
            }
        }
        if let failure = error as? PostgresFailure, let kind = postgresKind(failure) {
            // `database` is the redacted location here; the failure's message never holds the password.
            return EnvironmentalFault(kind: kind, path: database, detail: failure.description)
        }
        var code: Int32?
        if let posix = error as? POSIXError { code = posix.code.rawValue }
        let nsError = error as NSError
        if nsError.domain == NSPOSIXErrorDomain { code = Int32(nsError.code) }
        if let underlying = nsError.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            code = Int32(underlying.code)
        }
        let where_ = path ?? (nsError.userInfo[NSFilePathErrorKey] as? String) ?? database
        switch code {
        case ENOSPC: return EnvironmentalFault(kind: .noSpace, path: where_, detail: "")
        case EDQUOT: return EnvironmentalFault(kind: .quotaExceeded, path: where_, detail: "")
        case EROFS: return EnvironmentalFault(kind: .readOnly, path: where_, detail: "")
        case EACCES: return EnvironmentalFault(kind: .permissionDenied, path: where_, detail: "")
        default: return nil
        }
    }

    /// The PostgreSQL failures that clear on their own (SQLSTATE classes from the
    /// PostgreSQL manual, appendix A): connection exceptions (08…), an
    /// administrator or crash shutdown and a server still starting (57P01–57P03),
    /// too many connections (53300), a lock not available (55P03), a disk full
    /// on the server (53100), a hot standby refusing writes (25006). A failure
    /// with no SQLSTATE raised while connecting (refused, no route, the socket
    /// missing) is a connection failure too. Anything else is the job's own error.
    static func postgresKind(_ failure: PostgresFailure) -> Kind? {
        guard let state = failure.sqlState else {
            // postgres-nio's client-side codes for a connection lost mid-session.
            let lost = ["serverClosedConnection", "connectionError", "uncleanShutdown"]
            let message = failure.message
            return message.hasPrefix("cannot connect to ") || lost.contains(where: message.hasPrefix) ? .databaseUnavailable : nil
        }
        switch state {
        case "53100": return .databaseFull
        case "55P03": return .databaseLocked
        case "57P01", "57P02", "57P03", "53300", "25006": return .databaseUnavailable
        default: return state.hasPrefix("08") ? .databaseUnavailable : nil
        }
    }

    /// Seconds before the next try after `postponements` earlier ones:
    /// 5, 10, 20, 40, then every 60 s, so that a cleared fault is noticed
    /// within a minute and a lasting one costs one look a minute.
    public static func retryDelay(postponements: Int) -> TimeInterval {
        min(60, 5 * pow(2, Double(min(postponements, 6))))
    }
}
