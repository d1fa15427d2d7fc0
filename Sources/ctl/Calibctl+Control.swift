import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Logging
import Pipeline

/// Who asked, for the job history.
func requester() -> String {
    "\(ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())") via calibctl"
}

/// A database refusal for the person: a job, product or pin that does not
/// exist is `.noInput`; a request the database refuses is `.dataError`.
func userFacing(_ error: ControlError) -> UserFacingError {
    UserFacingError(error.message.hasPrefix("no ") ? .noInput : .dataError, error.message)
}

extension Calibctl {
    struct Rerun: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a finished job again on the same inputs; its new product supersedes the old.",
            discussion: "The running daemon picks it up within a second. Example: calibctl rerun 42")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var job: Int64

        func run() throws {
            do {
                let record = try global.openDatabase().rerun(jobId: job, requestedBy: requester())
                global.wakeDaemon()
                print("job \(job) queued (\(record.recipe) \(record.night) \(record.setup))")
            } catch let error as ControlError {
                throw userFacing(error)
            }
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Cancel a queued or running job (a running recipe's result is discarded).",
            discussion: "Example: calibctl cancel 42")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "Job id.") var job: Int64

        func run() throws {
            do {
                try global.openDatabase().cancel(jobId: job, requestedBy: requester())
                global.wakeDaemon()
                print("job \(job) cancelled")
            } catch let error as ControlError {
                throw userFacing(error)
            }
        }
    }

    struct Reprocess: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a night's (or a range of nights') failed, QC-failed and cancelled jobs again (with --force, succeeded ones too).",
            discussion: """
                Input sets that never became jobs are planned by the daemon as usual.
                Examples:
                  calibctl reprocess --night 2026-11-21
                  calibctl reprocess --night 2026-11-21 --recipe mbias --setup arm=RED --force
                  calibctl reprocess --nights 2016-01-01..2025-12-31 --recipe mflat --force
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Observing night YYYY-MM-DD.") var night: String?
        @Option(help: "Observing nights FIRST..LAST (YYYY-MM-DD..YYYY-MM-DD, both included).") var nights: String?
        @Option(help: "Only this recipe.") var recipe: String?
        @Option(help: "Setup terms key=value the job's setup must match (repeatable).") var setup: [String] = []
        @Flag(help: "Also re-run jobs that succeeded.") var force = false

        func validate() throws {
            _ = try selectedNights()
        }

        /// The nights asked for, oldest first: one `--night`, or every night of `--nights FIRST..LAST`.
        func selectedNights() throws -> [String] {
            switch (night, nights) {
            case (let one?, nil): return [try InputValidator.night(one).description]
            case (nil, let range?):
                let span = try InputValidator.nights(range)
                var all: [String] = []
                var current = span.lowerBound
                while current <= span.upperBound { all.append(current.description); current = current.adding(days: 1) }
                return all
            default:
                throw UserFacingError(.usage, "give either --night NIGHT or --nights FIRST..LAST",
                                      remedy: "e.g. calibctl reprocess --nights 2016-01-01..2025-12-31")
            }
        }

        func run() throws {
            let configuration = try global.loadConfiguration()
            // A misspelt recipe or setup key would otherwise match no job and queue nothing, silently.
            let recipeName = try recipe.map { try InputValidator.recipe($0, in: configuration) }
            let keys = Set(configuration.profiles.flatMap(\.setupKeys.keys)).union(["exptime", "lamp"]).sorted()
            let terms = try InputValidator.setup(setup, keys: keys)
            let database = try global.openDatabase()
            let jobs = try selectedNights().flatMap { night in
                try database.reprocess(night: night, recipe: recipeName, setup: terms, force: force, requestedBy: requester())
            }
            global.wakeDaemon()
            print("\(jobs.count) job\(jobs.count == 1 ? "" : "s") queued" + (jobs.isEmpty ? "" : ": " + jobs.map { "\($0.id!)" }.joined(separator: ", ")))
        }
    }

    struct Ingest: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Record files now: from the watched roots or the configured extraIngestRoots (e.g. an archive).",
            discussion: "Files anywhere else are refused. Example: calibctl ingest /archive/2026-11-21/*.fits")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "FITS files.") var paths: [String]

        func run() throws {
            let configuration = try global.loadConfiguration()
            let database = try RegistryOpener.open(configuration)
            let ingester = FrameIngester(configuration: configuration, database: database, logger: Logger(label: "calibctl"))
            struct Line: Encodable { var path: String; var outcome: String; var detail: String }
            var lines: [Line] = []
            for path in paths {
                let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
                let resolved = URL(fileURLWithPath: absolute).resolvingSymlinksInPath().path
                guard configuration.isIngestable(resolved) else {
                    lines.append(Line(path: absolute, outcome: "refused",
                                      detail: "outside the watched roots and extraIngestRoots of \(configuration.source ?? "the configuration")"))
                    continue
                }
                switch try ingester.ingest(path: absolute, final: true) {
                case .recorded(let f): lines.append(Line(path: absolute, outcome: f.status == .ok ? "recorded" : "problem",
                                                         detail: f.problem ?? "\(f.frameType.rawValue) \(f.night ?? "") \(f.setup ?? "")"))
                case .alias(let id): lines.append(Line(path: absolute, outcome: "duplicate", detail: "same bytes as frame \(id)"))
                case .unchanged: lines.append(Line(path: absolute, outcome: "unchanged", detail: "already recorded"))
                case .ignored(let why): lines.append(Line(path: absolute, outcome: "ignored", detail: why))
                case .deferred(let why, _): lines.append(Line(path: absolute, outcome: "deferred", detail: why))
                }
            }
            // New frames may complete an input set: the daemon plans now rather than at its next check.
            global.wakeDaemon()
            if output.json { return try printJSON(lines) }
            print(table(["OUTCOME", "PATH", "DETAIL"], lines.map { [$0.outcome, $0.path, $0.detail] }))
        }
    }

    struct JobCommand: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "job", abstract: "Details of one job.",
                                                        subcommands: [Show.self])

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "A job's inputs, products, QC, history, timings and log.",
                discussion: "Example: calibctl job show 42")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "Job id.") var id: Int64

            func run() throws {
                let configuration = try global.loadConfiguration()
                let database = try global.openDatabase(readOnly: true)
                guard let job = try database.job(id: id) else {
                    throw UserFacingError(.noInput, "no job \(id)", remedy: "calibctl jobs lists the jobs")
                }
                let inputs = try database.inputs(ofJob: id)
                let products = try database.products().filter { $0.jobId == id }
                let events = try database.events(ofJob: id)
                let logPath = (configuration.logsDirectory as NSString).appendingPathComponent("\(job.night)/job-\(id)-\(job.recipe).log")
                let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
                let timings = try database.timings(ofJob: id)
                if output.json {
                    return try printJSON(JobDetailJSON(
                        job: job, inputs: inputs, calibrations: try database.calibrationChoices(ofJob: id),
                        products: try products.map { ProductJSON($0, qc: try database.metrics(ofProduct: $0.id!)) },
                        events: events, timings: timings, logPath: logPath, log: log))
                }
                print("job \(id): \(job.recipe) \(job.recipeVersion)  \(job.night)  \(job.setup)")
                print("state: \(job.state.rawValue)\(job.reason.map { " — \($0)" } ?? "")   attempts: \(job.attempts)/\(job.maxAttempts)")
                if let started = job.startedAt, let finished = job.finishedAt {
                    print(String(format: "ran %.2f s (started %@)", finished.timeIntervalSince(started), "\(started)"))
                }
                print("parameters: \(job.parameters)")
                let choices = try database.calibrationChoices(ofJob: id)
                if !choices.isEmpty {
                    print("\ncalibrations used:")
                    for c in choices {
                        let product = try database.product(id: c.productId)
                        print("  \(c.type.rawValue): product \(c.productId) (night \(product?.night ?? "?")), \(c.basis)"
                              + (c.level.map { ", level \($0)" } ?? "") + " — \(c.explanation)")
                    }
                }
                print("\ninputs (\(inputs.count)):")
                for i in inputs { print("  \(i.frame.frameType.rawValue)  \(i.paths.first ?? i.frame.path)") }
                print("\nproducts:")
                for p in products {
                    print("  \(p.productType.rawValue)  QC \(p.qcPassed ? "pass" : "FAIL")\(p.supersededBy.map { "  superseded by \($0)" } ?? "")  \(p.path)")
                    for m in try database.metrics(ofProduct: p.id!) {
                        print("    \(m.name) = \(m.value.map { String(format: "%.5g", $0) } ?? "NaN") \(m.unit)\(m.passed ? "" : "  OUT OF RANGE")")
                    }
                }
                if !timings.isEmpty {
                    print("\ntime by phase (seconds):")
                    print(table(["ATTEMPT", "WALL"] + JobTiming.phaseNames.map { $0.uppercased() } + ["PEAK RSS"], timings.map { t in
                        ["\(t.attempt)", String(format: "%.3f", t.wallSeconds)] + t.phases.map { String(format: "%.3f", $0.seconds) }
                            + [t.peakRSSBytes.map { String(format: "%.0f MiB", Double($0) / 1048576) } ?? "—"]
                    }).split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
                }
                print("\nhistory:")
                for e in events { print("  \(e.at)  \(e.state.rawValue)  \(e.message ?? "")") }
                print("\nlog (\(logPath)):")
                print(log.split(separator: "\n").suffix(30).map { "  " + $0 }.joined(separator: "\n"))
            }
        }
    }
}
