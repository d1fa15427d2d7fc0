import Foundation

extension ExitStatus {
    /// One line per status for `--help`, the man pages and the README, so the
    /// three say the same thing.
    public var meaning: String {
        switch self {
        case .ok: "done; nothing wrong found"
        case .finding: "a finding: calibd --once ran a job that failed or failed QC; verify found a mismatch"
        case .nothingQualifies: "nothing qualifies (best found no usable calibration)"
        case .usage: "the command line is wrong (unknown option or verb, malformed value)"
        case .dataError: "the request is well formed but refused (e.g. re-running a running job)"
        case .noInput: "a named job, product or file, or the database, does not exist"
        case .unavailable: "a resource is unavailable (the database is locked by another process)"
        case .software: "an internal error: a bug to report"
        case .cantCreate: "an output cannot be created (permissions)"
        case .ioError: "reading or writing failed (disk full, read-only file system)"
        case .config: "the configuration or an instrument profile is wrong"
        }
    }

    /// `  0   done; …` lines, indented for a help text's discussion.
    public static var helpTable: String {
        allCases.map { "  " + String($0.rawValue).padding(toLength: 4, withPad: " ", startingAt: 0) + $0.meaning }
            .joined(separator: "\n")
    }
}
