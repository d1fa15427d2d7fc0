import ArgumentParser
import CalibCore
import Foundation
import Glibc
import Logging
import Pipeline
import ServiceLifecycle

@main
struct CalibdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "calibd",
        abstract: "Unattended nightly calibration of echelle spectrograph data.",
        discussion: """
            Watches raw-data directories, classifies each FITS frame by its instrument profile, groups \
            frames into complete input sets and runs the calibration recipes in dependency order, \
            recording frames, jobs, products and QC in the calibration database.

            Examples:
              calibd --config /etc/calibd/calibd.yaml
              calibd --config config/calibd.yaml --watch /data/raw --workspace /tmp/ws --once
              calibd --config /etc/calibd/calibd.yaml --role reduce --drain

            Exit status (--once; the daemon exits 0 after a graceful stop):
            \(ExitStatus.helpTable)
            """,
        version: CalibdVersion.current,
        subcommands: [WorkerCommand.self])

    /// The parser's own errors keep its handling; every other error is put in
    /// plain words with a remedy and its `ExitStatus` (systemd's
    /// `RestartPreventExitStatus=` keeps a wrong configuration, 78, from restarting in a loop).
    static func main() async {
        do {
            // The parser may answer with its own command (help), or a worker subcommand; some are async.
            var command = try parseAsRoot()
            if var asynchronous = command as? any AsyncParsableCommand { try await asynchronous.run() } else { try command.run() }
        } catch {
            let wrapped = ErrorTranslation.wrappedUserFacing(error)
            if wrapped == nil, ErrorTranslation.isArgumentParserError(error) || error is ValidationError { exit(withError: error) }
            let failure = wrapped ?? ErrorTranslation.userFacing(error)
            FileHandle.standardError.write(Data(failure.text(tool: "calibd").utf8))
            Glibc.exit(failure.status.rawValue)
        }
    }

    @Option(help: "Configuration file (default: $CALIBD_CONFIG, ./config/calibd.yaml, /etc/calibd/calibd.yaml).")
    var config: String?

    @Option(help: "Raw-data directory to watch; repeat for several. Replaces the configured list.")
    var watch: [String] = []

    @Option(help: "Workspace for products, logs and (by default) the database.")
    var workspace: String?

    @Flag(help: "Process everything present, run every complete job, print a summary and exit.")
    var once = false

    /// What this process does (#16): several processes (hosts) can split the work.
    enum Role: String, CaseIterable, ExpressibleByArgument {
        case all, ingest, reduce
    }

    @Option(help: "What this process does: all (record frames and run jobs, the default), ingest, or reduce (run jobs only; with --drain).")
    var role: Role = .all

    @Flag(help: "With --role reduce: run queued jobs, planning their dependants as products appear, until none is left; exit 1 if any failed. For batch systems (one drain per job-array task).")
    var drain = false

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Flag(help: "Check the configuration, every instrument profile and the static files they need; print every finding and exit (78 on any finding).")
    var checkConfig = false

    func validate() throws {
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("unknown log level '\(logLevel)'")
        }
        if drain && once { throw ValidationError("--drain and --once are two ways to run a batch: give one of them") }
        if drain && role != .reduce { throw ValidationError("--drain runs jobs and records no frames: give it with --role reduce") }
        // Long-running single-role daemons (an ingest host, reduce hosts) need the registry on PostgreSQL first (#16).
        if role != .all && !drain {
            throw ValidationError("--role \(role.rawValue) runs only as a batch for now (--role reduce --drain); the daemon does both (--role all)")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            JournalLogHandler(label: label, level: level)
        }
        let logger = Logger(label: "calibd")
        if checkConfig { return try Self.checkConfiguration(config) }
        let configuration: CalibdConfiguration
        do {
            configuration = try ConfigurationLocator.load(configPath: config, watch: watch, workspace: workspace)
        }
        // A drain records no frames, so it needs no raw-data directory.
        guard drain || !configuration.watch.isEmpty else {
            throw UserFacingError(.config, "no raw-data directory to watch",
                                  remedy: "give --watch DIR or 'watch:' in \(configuration.source ?? "the configuration")")
        }
        // Files are read and recipes run in worker processes (this same binary), so that
        // a file or recipe that crashes ends a worker and is recorded, not the daemon.
        let engine = try CalibrationEngine(configuration: configuration, logger: logger,
                                           workers: try WorkerLauncher.forDaemon(configuration: configuration, configPath: config, logLevel: logLevel))
        defer { engine.stopWorkers() }
        if drain {
            let started = Date()
            let ran = try await engine.drain()
            let seconds = Date().timeIntervalSince(started)
            // Judged by the final state of the jobs this process ran (a retried job counts by its last attempt).
            let failed = try ran.compactMap { try engine.database.job(id: $0) }.filter { [.failed, .qcFailed].contains($0.state) }
            print("calibd --drain: \(ran.count) jobs run in \(String(format: "%.1f", seconds)) s"
                  + (failed.isEmpty ? "; none left" : "; \(failed.count) did not succeed"))
            if !failed.isEmpty {
                let list = failed.map { "job \($0.id!) \($0.recipe) \($0.night) \($0.setup): \($0.state.rawValue)\($0.reason.map { " — \($0)" } ?? "")" }
                throw UserFacingError(.finding, "\(failed.count) of \(ran.count) jobs did not succeed:\n  " + list.joined(separator: "\n  "),
                                      remedy: "calibctl job show ID tells why; calibctl reprocess --night N runs them again")
            }
            return
        }
        if once {
            let started = Date()
            // A progress line on a terminal; nothing when output goes to a file or a pipe.
            let interactive = isatty(STDERR_FILENO) == 1
            let summary = try await engine.runBatch { progress in
                guard interactive else { return }
                switch progress {
                case .ingest(let done, let total):
                    if done == total || done % 10 == 0 { FileHandle.standardError.write(Data("\rfiles \(done)/\(total)   ".utf8)) }
                case .jobs(let done, let total):
                    FileHandle.standardError.write(Data("\rjobs \(done)/\(total) done   ".utf8))
                }
            }
            if interactive { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            let seconds = Date().timeIntervalSince(started)
            // Jobs of this run that ended badly: a batch run that hides them behind exit 0 hides them from cron and CI.
            let failed = try engine.database.jobs(states: [.failed, .qcFailed]).filter { ($0.finishedAt ?? .distantPast) >= started }
            let failedCount = failed.filter { $0.state == .failed }.count
            let qcFailedCount = failed.count - failedCount
            print("calibd --once: \(summary.scan.recorded) frames recorded, \(summary.scan.problems) problems, "
                  + "\(summary.scan.aliases) duplicates, \(summary.jobsRun) jobs run in \(String(format: "%.1f", seconds)) s"
                  + (failed.isEmpty ? "" : ", \(failedCount) failed, \(qcFailedCount) failed QC"))
            print("workspace: \(configuration.workspace)\n")
            // The same reports and monitoring file the running daemon keeps: <workspace>/reports, metrics.textfile.
            NightWatch(configuration: configuration, database: engine.database, logger: logger, settleSeconds: 0).update()
            print(try NightVerdictBuilder(configuration: configuration, database: engine.database, settleSeconds: 0).batchSummary(), terminator: "")
            if !failed.isEmpty {
                let list = failed.map { "job \($0.id!) \($0.recipe) \($0.night) \($0.setup): \($0.state.rawValue)\($0.reason.map { " — \($0)" } ?? "")" }
                throw UserFacingError(.finding, "\(failed.count) of \(summary.jobsRun) jobs did not succeed:\n  " + list.joined(separator: "\n  "),
                                      remedy: "calibctl job show ID tells why; calibctl reprocess --night N runs them again")
            }
            return
        }
        logger.info("calibd starting", metadata: [
            "version": "\(CalibdVersion.current)", "config": "\(configuration.source ?? "none (defaults)")",
            "workspace": "\(configuration.workspace)", "database": "\(RegistryOpener.displayLocation(configuration.database))",
            "profiles": "\(configuration.profiles.map(\.name).joined(separator: ", "))",
            "roots": "\(configuration.watch.joined(separator: ", "))", "workers": "\(configuration.workers)",
        ])
        try engine.recoverAfterRestart()
        let notifier = SystemdNotifier()
        var scheduler = SchedulerService(engine: engine, notifier: notifier)
        let ready = ReadinessBarrier(parts: 3) {
            logger.info("calibd running: watching the roots, scheduler waiting for work")
            notifier.ready(status: "idle; watching \(configuration.watch.count) root\(configuration.watch.count == 1 ? "" : "s")")
        }
        scheduler.onRunning = { ready.arrive() }
        let group = ServiceGroup(configuration: .init(
            services: [
                .init(service: IngestService(engine: engine, onFramesChanged: { [scheduler] in scheduler.wake() },
                                             onWatching: { ready.arrive() })),
                .init(service: scheduler),
                .init(service: ConfigurationReloadService(engine: engine, configPath: config, watch: watch, workspace: workspace,
                                                          notifier: notifier, onReloaded: { [scheduler] in scheduler.wake() },
                                                          onListening: { ready.arrive() })),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        try await group.run()
        logger.info("calibd stopped", metadata: ["jobs.drained": "\(scheduler.jobsDrained)"])
    }

    /// Prints every configuration finding (not just the first, as a start
    /// would) and ends with EX_CONFIG when there is any, so that a change can
    /// be checked before a night depends on it.
    static func checkConfiguration(_ config: String?) throws {
        let report = ConfigurationChecker.report(configPath: config)
        for line in report.lines { print(line) }
        if !report.clean { throw ExitCode(ExitStatus.config.rawValue) }
    }
}
