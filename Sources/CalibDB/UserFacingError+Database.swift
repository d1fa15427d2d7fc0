import CalibCore
import GRDB

extension UserFacingError {
    /// SQLite's failures as a person on duty can act on them, or nil when
    /// `error` is not a database error. The raw text ("SQLite error 5:
    /// database is locked - while executing …") names SQL, not a remedy.
    public init?(databaseError error: any Error, path: String? = nil) {
        guard let error = error as? DatabaseError else { return nil }
        let file = path.map { " \($0)" } ?? ""
        switch error.resultCode {
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            self.init(.unavailable, "the calibration database\(file) is locked by another process",
                      remedy: "try again in a moment; if it stays locked, look for a stuck calibctl or a second calibd on this workspace")
        case .SQLITE_CANTOPEN:
            self.init(.noInput, "cannot open the calibration database\(file)",
                      remedy: "check that the workspace exists and that you may read it (calibd keeps it 0750; see controlGroup:)")
        case .SQLITE_READONLY, .SQLITE_PERM, .SQLITE_AUTH:
            self.init(.cantCreate, "the calibration database\(file) is read-only for you",
                      remedy: "run as the calibd user or a member of the configured controlGroup")
        case .SQLITE_FULL:
            self.init(.ioError, "the disk holding the calibration database\(file) is full", remedy: "free space in the workspace and try again")
        case .SQLITE_IOERR:
            self.init(.ioError, "reading or writing the calibration database\(file) failed (\(error.message ?? "I/O error"))")
        case .SQLITE_CORRUPT, .SQLITE_NOTADB:
            self.init(.dataError, "\(path ?? "the database") is not a readable calibration database",
                      remedy: "restore it from a backup, or move it aside and let calibd rebuild it by re-ingesting the raw roots")
        default:
            self.init(.software, "the calibration database refused a request: \(error.message ?? "SQLite error \(error.resultCode.rawValue)")",
                      remedy: "this is a bug; please report it with the command line")
        }
    }
}
