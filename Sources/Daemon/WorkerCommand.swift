import ArgumentParser
import CalibCore
import Foundation
import Glibc
import Logging
import Pipeline

/// `calibd worker …`: the processes the daemon starts to read files and run
/// recipes, so that a crash in either ends a worker rather than the daemon.
/// Hidden: not for people; the daemon passes its own configuration.
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker",
        abstract: "Internal: a worker process of the daemon (file reader or recipe runner).",
        shouldDisplay: false,
        subcommands: [Examine.self, RunJob.self])

    /// The configuration exactly as the daemon has it. Named apart from the
    /// root command's `--config`, `--watch`, `--workspace` and `--log-level`,
    /// which the root command would otherwise take for itself.
    struct Options: ParsableArguments {
        @Option(name: .customLong("daemon-config")) var config: String?
        @Option(name: .customLong("daemon-watch")) var watch: [String] = []
        @Option(name: .customLong("daemon-workspace")) var workspace: String?
        @Option(name: .customLong("daemon-log-level")) var logLevel: String = "info"

        func load() throws -> (CalibdConfiguration, Logger) {
            let level = Logger.Level(rawValue: logLevel) ?? .info
            LoggingSystem.bootstrap { label in
                JournalLogHandler(label: label, level: level)
            }
            return (try ConfigurationLocator.load(configPath: config, watch: watch, workspace: workspace), Logger(label: "calibd.worker"))
        }
    }

    /// Reads files named on standard input, one JSON request a line; answers on standard output.
    struct Examine: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Internal: examine files for the daemon.", shouldDisplay: false)
        @OptionGroup var options: Options

        func run() throws {
            let (configuration, logger) = try options.load()
            try ExaminerProcess.serve(configuration: configuration, logger: logger)
        }
    }

    /// Runs one claimed attempt of one job and records its outcome.
    struct RunJob: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "run-job", abstract: "Internal: run one job for the daemon.",
                                                        shouldDisplay: false)
        @OptionGroup var options: Options
        @Option var job: Int64
        @Option var owner: String
        @Option var attempt: Int

        func run() async throws {
            let (configuration, logger) = try options.load()
            let status = await RecipeProcess.run(configuration: configuration, jobId: job, owner: owner, attempt: attempt, logger: logger)
            if status != 0 { throw ExitCode(status) }
        }
    }
}
