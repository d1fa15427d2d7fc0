import CalibCore
import CalibDB
import FITS
import Foundation

/// Turns whatever a command threw into a `UserFacingError`: plain words, the
/// file concerned, a remedy and an exit status from `ExitStatus`.
///
/// Both `calibd` and `calibctl` call it at the top level, so that no
/// "Error Domain=NSCocoaErrorDomain Code=4" or decoder debug text reaches a
/// person, and so that scripts can tell a mistake (64, 78) from a missing
/// input (66) from a broken machine (69, 74) by the exit status.
public enum ErrorTranslation {
    /// Whether `error` is one of swift-argument-parser's own (help, usage,
    /// `ExitCode`): those keep the parser's handling, which prints the usage.
    public static func isArgumentParserError(_ error: any Error) -> Bool {
        String(reflecting: type(of: error)).hasPrefix("ArgumentParser.")
    }

    /// A `UserFacingError` that a command's `validate()` threw, which the
    /// argument parser wraps in its own (internal) error type and would
    /// otherwise report with exit status 1 and the usage line. Found by
    /// walking the wrapper's stored values, a few levels deep.
    public static func wrappedUserFacing(_ error: any Error) -> UserFacingError? {
        func search(_ value: Any, depth: Int) -> UserFacingError? {
            if let found = value as? UserFacingError { return found }
            guard depth < 4 else { return nil }
            for child in Mirror(reflecting: value).children {
                if let found = search(child.value, depth: depth + 1) { return found }
            }
            return nil
        }
        return search(error, depth: 0)
    }

    public static func userFacing(_ error: any Error) -> UserFacingError {
        switch error {
        case let error as UserFacingError:
            return error
        case let error as ConfigurationError:
            if error.file != "(none)", !FileManager.default.fileExists(atPath: error.file) {
                return UserFacingError(.noInput, "\(error)", remedy: "pass --config FILE with an existing file, or set CALIBD_CONFIG")
            }
            if error.file == "(none)" {
                return UserFacingError(.noInput, error.message)
            }
            return UserFacingError(.config, "\(error)", remedy: "correct \(error.file) and run again")
        case let error as ControlError:
            // The database refuses a request either because the thing named does not exist or because it may not be done.
            let missing = error.message.hasPrefix("no ")
            return UserFacingError(missing ? .noInput : .dataError, error.message)
        case let error as SetupParseError:
            return UserFacingError(.usage, error.description, remedy: "give setup terms as key=value, e.g. --setup arm=RED")
        case let error as WorkspacePermissions.Failure:
            return UserFacingError(.cantCreate, error.description)
        case let error as WorkspaceLostError:
            return UserFacingError(.unavailable, error.description)
        case let error as PipelineError:
            switch error {
            case .configuration, .unknownRecipe: return UserFacingError(.config, error.description, remedy: "correct the instrument profile and run again")
            case .productWrite: return UserFacingError(.ioError, error.description)
            case .inputMismatch: return UserFacingError(.dataError, error.description)
            }
        case let error as FITSError:
            return UserFacingError(.ioError, error.description)
        case let error as DecodingError:
            let plain = ConfigurationError.from(error, file: "input")
            return UserFacingError(.dataError, "a stored file could not be read: \(plain.key.isEmpty ? "" : plain.key + ": ")\(plain.message)")
        case let error as CocoaError:
            return cocoa(error)
        case let error as POSIXError:
            return UserFacingError(.ioError, String(cString: strerror(error.code.rawValue)))
        default:
            if let database = UserFacingError(databaseError: error) { return database }
            let text = String(describing: error)
            // Foundation's NSError description is a dump, not a sentence.
            let message = text.hasPrefix("Error Domain=") ? (error as NSError).localizedDescription : text
            return UserFacingError(.software, message, remedy: "this is unexpected; please report it with the command line")
        }
    }

    /// File errors by their code, with the path Foundation attached.
    static func cocoa(_ error: CocoaError) -> UserFacingError {
        let path = error.filePath ?? error.url?.path ?? (error.userInfo[NSFilePathErrorKey] as? String)
        let file = path ?? "a file"
        switch error.code {
        case .fileNoSuchFile, .fileReadNoSuchFile:
            return UserFacingError(.noInput, "no such file: \(file)", remedy: "check the path (relative paths are relative to the current directory)")
        case .fileReadNoPermission:
            return UserFacingError(.noInput, "permission denied reading \(file)", remedy: "run as a user that may read it")
        case .fileWriteNoPermission:
            return UserFacingError(.cantCreate, "permission denied writing \(file)", remedy: "choose a directory you may write to")
        case .fileWriteFileExists:
            return UserFacingError(.cantCreate, "\(file) already exists", remedy: "remove it or choose another name")
        case .fileWriteOutOfSpace:
            return UserFacingError(.ioError, "no space left on the device writing \(file)", remedy: "free space and try again")
        case .fileWriteVolumeReadOnly:
            return UserFacingError(.ioError, "\(file) is on a read-only file system")
        case .fileReadCorruptFile, .fileReadInapplicableStringEncoding:
            return UserFacingError(.dataError, "\(file) is not in the expected format")
        default:
            return UserFacingError(.ioError, "reading or writing \(file) failed (\(error.localizedDescription))")
        }
    }
}
