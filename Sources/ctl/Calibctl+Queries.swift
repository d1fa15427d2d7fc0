import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Pipeline

extension Calibctl {
    struct Frames: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List recorded raw frames.",
            discussion: "Example: calibctl frames --night 2026-11-21   |   calibctl frames --problems --json")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this observing night (YYYY-MM-DD).") var night: String?
        @Flag(help: "Only files that could not be used, with the reason.") var problems = false

        func run() throws {
            let frames = try global.openDatabase().frames(night: night, problemsOnly: problems)
            if output.json { return try printJSON(frames) }
            if problems {
                print(table(["ID", "PATH", "REASON"], frames.map { f in
                    ["\(f.frame.id!)", f.paths.first ?? f.frame.path, f.frame.problem ?? ""]
                }))
            } else {
                print(table(["ID", "NIGHT", "TYPE", "LAMP", "SETUP", "EXPTIME", "STATUS", "PATH"], frames.map { f in
                    ["\(f.frame.id!)", f.frame.night ?? "-", f.frame.frameType.rawValue, f.frame.lamp ?? "",
                     f.frame.setup ?? "", f.frame.exptime.map { String(format: "%g", $0) } ?? "",
                     f.frame.status.rawValue, f.paths.first ?? f.frame.path]
                }))
            }
        }
    }

    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List jobs and their states.",
            discussion: "Example: calibctl jobs --night 2026-11-21 --state failed")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this observing night.") var night: String?
        @Option(help: "Only jobs in this state (waiting, queued, running, succeeded, qc_failed, failed, cancelled, superseded).")
        var state: [String] = []

        func validate() throws {
            for s in state where JobState(rawValue: s) == nil { throw ValidationError("unknown job state '\(s)'") }
        }

        func run() throws {
            let states = state.isEmpty ? nil : state.compactMap(JobState.init(rawValue:))
            let jobs = try global.openDatabase().jobs(night: night, states: states)
            if output.json { return try printJSON(jobs) }
            print(table(["ID", "RECIPE", "NIGHT", "SETUP", "STATE", "TRIES", "REASON"], jobs.map { j in
                ["\(j.id!)", j.recipe, j.night, j.setup, j.state.rawValue, "\(j.attempts)", j.reason ?? ""]
            }))
        }
    }

    struct Calibs: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List calibration products.",
            discussion: "Example: calibctl calibs --type MBIAS --night 2026-11-21")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Product type (MBIAS, MDARK, MFLAT, FLAT, BLAZE, DISP_MAP, …).") var type: String?
        @Option(help: "Only this observing night.") var night: String?
        @Flag(help: "Include superseded products.") var all = false

        func validate() throws {
            if let type, ProductType(rawValue: type) == nil {
                throw ValidationError("unknown product type '\(type)' (known: \(ProductType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
        }

        func run() throws {
            let database = try global.openDatabase()
            let products = try database.products(type: type.flatMap(ProductType.init(rawValue:)), night: night, includeSuperseded: all)
            if output.json {
                struct Entry: Encodable { var product: ProductRecord; var qc: [QCMetricRecord] }
                return try printJSON(try products.map { Entry(product: $0, qc: try database.metrics(ofProduct: $0.id!)) })
            }
            print(table(["ID", "TYPE", "NIGHT", "SETUP", "QC", "SUPERSEDED", "PATH"], products.map { p in
                ["\(p.id!)", p.productType.rawValue, p.night, p.setup, p.qcPassed ? "pass" : "FAIL",
                 p.supersededBy.map { "by \($0)" } ?? "", p.path]
            }))
        }
    }

    struct Best: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The best calibration of a type for a night and setup, and why.",
            discussion: "Example: calibctl best --type MBIAS --night 2026-11-21 --setup arm=RED --explain")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Product type, e.g. MBIAS.") var type: String
        @Option(help: "Observing night YYYY-MM-DD.") var night: String
        @Option(help: "Setup terms key=value that must match (repeatable).") var setup: [String] = []
        @Option(help: "Instrument (default: any).") var instrument: String?
        @Flag(help: "List every candidate and why it was or was not chosen.") var explain = false

        func validate() throws {
            guard ProductType(rawValue: type) != nil else { throw ValidationError("unknown product type '\(type)'") }
            guard ObservingNight(night) != nil else { throw ValidationError("night must be YYYY-MM-DD, got '\(night)'") }
            for term in setup { _ = try Setup(parsing: term) }
        }

        func run() throws {
            let database = try global.openDatabase()
            let wanted = try Setup(parsing: setup.joined(separator: " "))
            let choice = try CalibrationSelector(database: database)
                .best(type: ProductType(rawValue: type)!, instrument: instrument, night: ObservingNight(night)!, setup: wanted)
            if output.json { return try printJSON(choice) }
            if let chosen = choice.chosen {
                let p = chosen.product
                print("\(p.productType.rawValue) for \(night): product \(p.id!), night \(p.night), setup \(p.setup)")
                print("  \(p.path)")
                print(String(format: "  Δt %+.2f d; QC %@", chosen.deltaDays, p.qcPassed ? "passed" : "FAILED"))
                for m in try database.metrics(ofProduct: p.id!) {
                    print("    \(m.name) = \(m.value.map { String(format: "%.4g", $0) } ?? "NaN") \(m.unit)\(m.passed ? "" : "  OUT OF RANGE")")
                }
            } else {
                print("no usable \(type) for \(night)")
            }
            print("why: \(choice.explanation)")
            if explain {
                for c in choice.candidates {
                    print("  candidate \(c.product.id!) night \(c.product.night) setup \(c.product.setup): \(c.rejection ?? "acceptable")")
                }
            }
            if choice.chosen == nil { throw ExitCode(2) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Daemon state, frame counts, queue depth and recent errors.")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions

        func run() throws {
            let database = try global.openDatabase()
            let state = try database.daemonState()
            let counts = try database.jobCounts()
            let heartbeat = state["heartbeat"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) }
            let alive = heartbeat.map { Date().timeIntervalSince($0) < 10 } ?? false
            if output.json {
                struct StatusJSON: Encodable {
                    var running: Bool; var paused: Bool; var owner: String?; var startedAt: String?
                    var watch: [String]; var jobs: [String: Int]; var frames: Int
                }
                return try printJSON(StatusJSON(
                    running: alive, paused: state["paused"] == "1", owner: state["owner"], startedAt: state["started_at"],
                    watch: state["watch"]?.split(separator: "\n").map(String.init) ?? [],
                    jobs: Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) }),
                    frames: try database.frameCount()))
            }
            if alive, let started = state["started_at"].flatMap(Double.init) {
                print("calibd running (\(state["owner"] ?? "?")), up \(Int(Date().timeIntervalSince1970 - started)) s\(state["paused"] == "1" ? ", PAUSED" : "")")
                print("watching: \(state["watch"]?.replacingOccurrences(of: "\n", with: ", ") ?? "-")")
            } else {
                print("calibd not running (last heartbeat: \(heartbeat.map { "\($0)" } ?? "never"))")
            }
            print("database: \(database.path)")
            print("queue: " + JobState.allCases.compactMap { s in counts[s].map { "\(s.rawValue) \(s == .running ? "\($0)" : "\($0)")" } }.joined(separator: ", "))
            for job in try database.jobs(states: [.running]) {
                print("  running: job \(job.id!) \(job.recipe) \(job.night) \(job.setup) (attempt \(job.attempts), \(job.leaseOwner ?? "?"))")
            }
            let failed = try database.jobs(states: [.failed, .qcFailed]).suffix(5)
            if !failed.isEmpty {
                print("last errors:")
                for job in failed { print("  job \(job.id!) \(job.recipe) \(job.night): \(job.state.rawValue): \(job.reason ?? "")") }
            }
            // The latest night with frames is "tonight" for a person on duty.
            let latest = try database.frames(limit: 1).first?.frame.night
            print("")
            print(try NightReport(database: database).render(nights: latest.map { [$0] }), terminator: "")
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop starting new jobs (running jobs finish); ingest goes on.")
        @OptionGroup var global: GlobalOptions
        func run() throws { try global.openDatabase().setDaemonState("paused", "1"); print("paused") }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start jobs again after pause.")
        @OptionGroup var global: GlobalOptions
        func run() throws { try global.openDatabase().setDaemonState("paused", "0"); print("resumed") }
    }
}
