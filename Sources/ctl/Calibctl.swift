import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Pipeline

@main
struct Calibctl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibctl",
        abstract: "Query the calibration database and control calibd.",
        discussion: """
            Read-only commands work whether or not the daemon runs. Every listing takes --json; the JSON \
            schemas are in docs/schema/ (installed in share/calibd/schema/).

            Global options, before or after the verb: --config FILE (default: $CALIBD_CONFIG, \
            ./config/calibd.yaml, /etc/calibd/calibd.yaml) and --workspace DIR.

            Exit status:
            \(ExitStatus.helpTable)

            Examples:
              calibctl simulate --out /tmp/night --night 2026-11-21 --size 1024
              calibctl --workspace /tmp/night/ws frames --problems
              calibctl best --type MBIAS --night 2026-11-21 --setup arm=RED --explain
            """,
        version: CalibdVersion.current,
        subcommands: [Simulate.self, Status.self, Night.self, Frames.self, Jobs.self, JobCommand.self, Calibs.self, Best.self,
                      QC.self, Rerun.self, Reprocess.self, Cancel.self, Pause.self, Resume.self, Ingest.self,
                      Pin.self, Reference.self, Verify.self, Export.self, Report.self, LampFlux.self, CheckConfig.self, Metrics.self,
                      Completion.self, GenerateManpages.self, ConvertStatic.self])

    /// The parser's own errors (usage, help) keep its handling; every other
    /// error is put in plain words with a remedy and its `ExitStatus`.
    static func main() {
        let arguments = GlobalOptionPlacement.reorder(Array(CommandLine.arguments.dropFirst()))
        do {
            var command = try parseAsRoot(arguments)
            try command.run()
        } catch {
            let wrapped = ErrorTranslation.wrappedUserFacing(error)
            if wrapped == nil, ErrorTranslation.isArgumentParserError(error) || error is ValidationError { exit(withError: error) }
            CommandLineFailure.report(wrapped ?? ErrorTranslation.userFacing(error), tool: "calibctl")
        }
    }
}

/// Options every database command shares.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Configuration file (default: $CALIBD_CONFIG, ./config/calibd.yaml, /etc/calibd/calibd.yaml).")
    var config: String?

    @Option(help: "Workspace holding the database (overrides the configuration).")
    var workspace: String?

    func loadConfiguration() throws -> CalibdConfiguration {
        // A ConfigurationError goes up as it is: the top level makes it exit 78 with the file and key.
        try ConfigurationLocator.load(configPath: config, workspace: workspace)
    }

    /// Opens the database; `readOnly` for queries, which then never take the
    /// write lock (not even to check migrations) while the daemon writes.
    func openDatabase(readOnly: Bool = false) throws -> any CalibrationRegistry {
        let configuration = try loadConfiguration()
        guard RegistryOpener.isServer(configuration.database) || FileManager.default.fileExists(atPath: configuration.database) else {
            throw UserFacingError(.noInput, "no calibration database at \(configuration.database)",
                                  remedy: "run calibd with this workspace first, or name the right one with --workspace DIR or --config FILE")
        }
        return try RegistryOpener.open(configuration, readOnly: readOnly)
    }

    /// After a request is written to the database: wakes the running daemon so that
    /// it acts within a second (it polls nothing). Without permission to ring, the
    /// daemon still sees the request at its next periodic check.
    func wakeDaemon() {
        guard let configuration = try? loadConfiguration() else { return }
        if !DaemonWakeFile(workspace: configuration.workspace).ring(), FileManager.default.fileExists(atPath: configuration.database) {
            FileHandle.standardError.write(Data("calibctl: could not ring \(DaemonWakeFile(workspace: configuration.workspace).path); a running calibd acts on the request within a minute\n".utf8))
        }
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.")
    var json = false
}

/// Left-aligned columns for terminal tables.
func table(_ header: [String], _ rows: [[String]]) -> String {
    let widths = header.indices.map { i in ([header[i]] + rows.map { i < $0.count ? $0[i] : "" }).map(\.count).max() ?? 0 }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}
