/// The exit statuses of `calibd` and `calibctl`, as `sysexits.h` names them,
/// so that scripts, systemd (`RestartPreventExitStatus=`) and people can
/// tell a finding from a mistake from a broken machine.
public enum ExitStatus: Int32, Sendable, CaseIterable {
    /// Done; nothing wrong found.
    case ok = 0
    /// The command worked and found something wrong: failed jobs, a `verify` mismatch, a check-config finding.
    case finding = 1
    /// A query found nothing that qualifies (`best` with no usable calibration).
    case nothingQualifies = 2
    /// EX_USAGE: the command line is wrong (unknown option, malformed night, unknown type).
    case usage = 64
    /// EX_DATAERR: the request is well formed but refused (a pin on a product of another setup).
    case dataError = 65
    /// EX_NOINPUT: a named file, job, product or database does not exist.
    case noInput = 66
    /// EX_UNAVAILABLE: a service or resource the command needs is not there.
    case unavailable = 69
    /// EX_SOFTWARE: an internal error; a bug to report.
    case software = 70
    /// EX_CANTCREAT: an output file or directory cannot be created.
    case cantCreate = 73
    /// EX_IOERR: reading or writing failed (disk full, read-only file system).
    case ioError = 74
    /// EX_CONFIG: the configuration or an instrument profile is wrong.
    case config = 78
}

/// An error meant for a person: what went wrong in plain words, what to do
/// about it, and the exit status it ends the command with.
public struct UserFacingError: Error, Sendable, CustomStringConvertible {
    public var status: ExitStatus
    public var message: String
    /// The fix, when there is one to suggest ("give --setup arm=RED").
    public var remedy: String?

    public init(_ status: ExitStatus, _ message: String, remedy: String? = nil) {
        self.status = status; self.message = message; self.remedy = remedy
    }

    public var description: String {
        remedy.map { "\(message)\n  \($0)" } ?? message
    }
}
