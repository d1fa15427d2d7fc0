import CalibCore
import Foundation

/// The end of a command that failed: the error in words on standard error,
/// then the exit status the error carries (see `ExitStatus`).
enum CommandLineFailure {
    static func report(_ error: UserFacingError, tool: String) -> Never {
        FileHandle.standardError.write(Data(error.text(tool: tool).utf8))
        exit(error.status.rawValue)
    }
}
