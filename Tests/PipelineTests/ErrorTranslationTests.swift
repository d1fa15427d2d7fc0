@testable import CalibCore
@testable import CalibDB
import Foundation
@testable import Pipeline
import Testing
@testable import ctl

/// What a person reads when a command fails, without running a binary.
@Suite("Error translation and option placement")
struct ErrorTranslationTests {
    @Test("Foundation file errors become plain words with the path and a status; never 'Error Domain='")
    func cocoaErrors() {
        let missing = ErrorTranslation.userFacing(CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: "/data/x.fits"]))
        #expect(missing.status == .noInput)
        #expect(missing.message == "no such file: /data/x.fits")
        let denied = ErrorTranslation.userFacing(CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: "/report"]))
        #expect(denied.status == .cantCreate && denied.message.contains("/report") && denied.remedy != nil)
        let full = ErrorTranslation.userFacing(CocoaError(.fileWriteOutOfSpace, userInfo: [NSFilePathErrorKey: "/ws/p.fits"]))
        #expect(full.status == .ioError)
        for error in [missing, denied, full] { #expect(!error.message.contains("Error Domain")) }
    }

    @Test("Configuration, control, setup and decoding errors get their own statuses")
    func otherErrors() {
        let config = ErrorTranslation.userFacing(ConfigurationError(file: "/etc/calibd/calibd.yaml", key: "workers", message: "expected an integer"))
        // The file does not exist on this machine, so it reads as a missing input, not a wrong configuration.
        #expect(config.status == .noInput)
        let here = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-\(UUID().uuidString).yaml").path
        _ = FileManager.default.createFile(atPath: here, contents: Data("workers: x\n".utf8))
        defer { try? FileManager.default.removeItem(atPath: here) }
        let wrong = ErrorTranslation.userFacing(ConfigurationError(file: here, key: "workers", message: "expected an integer"))
        #expect(wrong.status == .config && wrong.message == "\(here): workers: expected an integer")
        #expect(ErrorTranslation.userFacing(ControlError(message: "no job 9")).status == .noInput)
        #expect(ErrorTranslation.userFacing(ControlError(message: "job 9 is running; cancel it first")).status == .dataError)
        #expect(ErrorTranslation.userFacing(SetupParseError(word: "armRED")).status == .usage)
        #expect(ErrorTranslation.userFacing(WorkspaceLostError(path: "/ws/calibd.sqlite")).status == .unavailable)
        #expect(ErrorTranslation.userFacing(PipelineError.unknownRecipe("mfalt")).status == .config)
        struct Opaque: Error {}
        let unknown = ErrorTranslation.userFacing(Opaque())
        #expect(unknown.status == .software && unknown.remedy?.contains("report") == true)
        let decoding = ErrorTranslation.userFacing(DecodingError.typeMismatch(Int.self, .init(codingPath: [], debugDescription: "Expected to decode Int but found a string instead.")))
        #expect(decoding.status == .dataError && !decoding.message.contains("Expected to decode"))
        #expect(UserFacingError(.noInput, "no job 9", remedy: "calibctl jobs lists the jobs").text(tool: "calibctl")
                == "calibctl: no job 9\n  calibctl jobs lists the jobs\n")
    }

    @Test("Global options before the verb move after the verb path; everything else stays put")
    func placement() {
        #expect(GlobalOptionPlacement.reorder(["--workspace", "W", "status", "--json"]) == ["status", "--json", "--workspace", "W"])
        #expect(GlobalOptionPlacement.reorder(["--config=C", "job", "show", "5"]) == ["job", "show", "5", "--config=C"])
        #expect(GlobalOptionPlacement.reorder(["status", "--config", "C"]) == ["status", "--config", "C"])
        // Before a `--` terminator, which ends option parsing
        #expect(GlobalOptionPlacement.reorder(["--config", "C", "ingest", "--", "--odd-name.fits"]) == ["ingest", "--config", "C", "--", "--odd-name.fits"])
        // Without a verb they configure nothing and are dropped, so --help and --version still answer
        #expect(GlobalOptionPlacement.reorder(["--config", "C", "--help"]) == ["--help"])
        #expect(GlobalOptionPlacement.reorder(["--version"]) == ["--version"])
    }
}
