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
            Read-only commands work whether or not the daemon runs. Every listing takes --json.

            Examples:
              calibctl simulate --out /tmp/night --night 2026-11-21 --size 1024
              calibctl frames --problems
              calibctl best --type MBIAS --night 2026-11-21 --setup arm=RED --explain
            """,
        subcommands: [Simulate.self, Status.self, Night.self, Frames.self, Jobs.self, JobCommand.self, Calibs.self, Best.self,
                      QC.self, Rerun.self, Reprocess.self, Cancel.self, Pause.self, Resume.self, Ingest.self,
                      Pin.self, Reference.self, Verify.self, Export.self, Report.self, LampFlux.self, CheckConfig.self, Metrics.self])
}

/// Options every database command shares.
struct GlobalOptions: ParsableArguments {
    @Option(help: "Configuration file (default: $CALIBD_CONFIG, ./config/calibd.yaml, /etc/calibd/calibd.yaml).")
    var config: String?

    @Option(help: "Workspace holding the database (overrides the configuration).")
    var workspace: String?

    func loadConfiguration() throws -> CalibdConfiguration {
        do { return try ConfigurationLocator.load(configPath: config, workspace: workspace) } catch let error as ConfigurationError {
            throw ValidationError("\(error)")
        }
    }

    /// Opens the database; `readOnly` for queries, which then never take the
    /// write lock (not even to check migrations) while the daemon writes.
    func openDatabase(readOnly: Bool = false) throws -> CalibrationDatabase {
        let configuration = try loadConfiguration()
        guard FileManager.default.fileExists(atPath: configuration.database) else {
            throw ValidationError("no calibration database at \(configuration.database) (has calibd run with this workspace?)")
        }
        return try CalibrationDatabase(path: configuration.database, readOnly: readOnly)
    }
}

struct OutputOptions: ParsableArguments {
    @Flag(help: "Print JSON instead of a table.")
    var json = false
}

/// Prints values as pretty JSON with ISO-8601 dates.
func printJSON<T: Encodable>(_ value: T) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.dateEncodingStrategy = .iso8601
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
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
