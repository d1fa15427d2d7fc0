import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Pipeline

/// The profile a type belongs to: named; else the one instrument whose
/// products of that type the database holds (a FLAT recipe also makes BLAZE,
/// so "which profiles make it" cannot decide alone); else the one profile
/// whose recipes make it, or the only profile.
func resolveProfile(_ configuration: CalibdConfiguration, instrument: String?, type: ProductType,
                    database: any CalibrationRegistry) throws -> InstrumentProfile {
    if let instrument { return try InputValidator.instrument(instrument, in: configuration) }
    let present = try database.instruments(withProductsOf: type).filter { name in configuration.profiles.contains { $0.name == name } }
    if present.count == 1, let profile = configuration.profiles.first(where: { $0.name == present[0] }) { return profile }
    if present.count > 1 {
        throw UserFacingError(.usage, "\(type.rawValue) products of several instruments are recorded (\(present.joined(separator: ", ")))",
                              remedy: "say which with --instrument \(present[0])")
    }
    let makers = configuration.profiles.filter { $0.recipes.contains { $0.product == type } }
    if makers.count == 1 { return makers[0] }
    if configuration.profiles.count == 1 { return configuration.profiles[0] }
    // None of that type yet: the one instrument the database holds anything of.
    let recorded = try database.instruments(withProductsOf: nil).filter { name in configuration.profiles.contains { $0.name == name } }
    if recorded.count == 1, let profile = configuration.profiles.first(where: { $0.name == recorded[0] }) { return profile }
    let names = (makers.isEmpty ? configuration.profiles : makers).map(\.name)
    throw UserFacingError(.usage, "no \(type.rawValue) product is recorded and several instruments could be meant (\(names.joined(separator: ", ")))",
                          remedy: "say which with --instrument \(names[0])")
}

extension Calibctl {
    struct Frames: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List recorded raw frames.",
            discussion: "Example: calibctl frames --night 2026-11-21   |   calibctl frames --problems --json")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Only this observing night (YYYY-MM-DD).") var night: String?
        @Flag(help: "Only files that could not be used, with the reason.") var problems = false

        func validate() throws { _ = try InputValidator.night(ifGiven: night) }

        func run() throws {
            let frames = try global.openDatabase(readOnly: true).frames(night: night, problemsOnly: problems)
            if output.json { return try printJSON(frames.map(FrameJSON.init)) }
            if problems {
                print(table(["ID", "PATH", "REASON"], frames.map { f in
                    // Names and reasons may hold newlines or terminal escapes: shown escaped, one row per frame.
                    ["\(f.frame.id!)", LogText.escaped(f.paths.first ?? f.frame.path), LogText.escaped(f.frame.problem ?? "")]
                }))
            } else {
                print(table(["ID", "NIGHT", "TYPE", "LAMP", "SETUP", "EXPTIME", "STATUS", "PATH"], frames.map { f in
                    ["\(f.frame.id!)", f.frame.night ?? "-", f.frame.frameType.rawValue, f.frame.lamp ?? "",
                     f.frame.setup ?? "", f.frame.exptime.map { String(format: "%g", $0) } ?? "",
                     f.frame.status.rawValue, LogText.escaped(f.paths.first ?? f.frame.path)]
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
            _ = try InputValidator.night(ifGiven: night)
            for s in state { _ = try InputValidator.jobState(s) }
        }

        func run() throws {
            let states = state.isEmpty ? nil : try state.map { try InputValidator.jobState($0) }
            let jobs = try global.openDatabase(readOnly: true).jobs(night: night, states: states)
            if output.json { return try printJSON(jobs.map(JobJSON.init)) }
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
            _ = try InputValidator.productType(ifGiven: type)
            _ = try InputValidator.night(ifGiven: night)
        }

        func run() throws {
            let database = try global.openDatabase(readOnly: true)
            let products = try database.products(type: try InputValidator.productType(ifGiven: type), night: night, includeSuperseded: all)
            if output.json {
                return try printJSON(try products.map { ProductJSON($0, qc: try database.metrics(ofProduct: $0.id!)) })
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
            discussion: """
                Uses the same association engine as the recipes: the profile's association rules (match keys, \
                time policy, maximum age, quality levels 0 same night, 1 within two weeks, 2 within a month, \
                3 any time), pins, and reference calibrations as the last fallback. Exit code 2 when nothing qualifies.

                Examples:
                  calibctl best --type MBIAS --night 2026-11-21 --setup arm=RED
                  calibctl best --type MFLAT --night 2026-11-21 --setup arm=RED --setup binx=1 --explain
                  calibctl best --type MBIAS --night 2026-11-21 --at 61366.12 --json
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Product type, e.g. MBIAS.") var type: String
        @Option(help: "Observing night YYYY-MM-DD.") var night: String
        @Option(help: "Setup terms key=value (repeatable).") var setup: [String] = []
        @Option(help: "Time of the data needing the calibration, MJD (default: the middle of the night).") var at: Double?
        @Option(help: "Instrument profile (default: the one whose recipes make this type).") var instrument: String?
        @Flag(help: "List every candidate considered and the rule that set it aside.") var explain = false

        func validate() throws {
            _ = try InputValidator.productType(type)
            _ = try InputValidator.night(night)
            if let at, !at.isFinite { throw UserFacingError(.usage, "--at must be an MJD, got \(at)") }
        }

        func run() throws {
            let configuration = try global.loadConfiguration()
            let database = try global.openDatabase(readOnly: true)
            let productType = try InputValidator.productType(type)
            let theNight = try InputValidator.night(night)
            let profile = try resolveProfile(configuration, instrument: instrument, type: productType, database: database)
            let rule = profile.associationRule(for: productType)
            // The request must state every match key, or the answer could be a product of another setup:
            // keys the person left out are completed when every candidate agrees, refused when they differ.
            let given = try InputValidator.setup(setup, keys: profile.setupKeys.keys.sorted())
            let completion = SetupCompletion(request: given, matchKeys: rule.match ?? profile.setupKeys.keys.sorted(),
                                             available: try database.productSetups(type: productType, instrument: profile.name))
            if let (key, values) = completion.ambiguous.sorted(by: { $0.key < $1.key }).first {
                throw UserFacingError(
                    .usage, "the \(productType.rawValue) products of \(profile.name)\(given.values.isEmpty ? "" : " with \(given.canonical)") "
                        + "differ in \(completion.ambiguityDescription): say which setup the calibration is for",
                    remedy: "e.g. --setup \(key)=\(values[0])")
            }
            let request = AssociationRequest(type: productType, instrument: profile.name, night: theNight, setup: completion.setup,
                                             mjd: at ?? profile.midNightMJD(theNight))
            let result = try CalibrationAssociator(database: database).best(request, rule: rule)
            if output.json {
                let chosen = try result.chosen.flatMap { try database.product(id: $0.candidate.id) }
                try printJSON(BestAnswerJSON(request: request, result: result,
                                             chosen: try chosen.map { ProductJSON($0, qc: try database.metrics(ofProduct: $0.id!)) },
                                             setupCompleted: completion.completed))
            } else {
                if let chosen = result.chosen, let p = try database.product(id: chosen.candidate.id) {
                    print("\(p.productType.rawValue) for \(night) (\(profile.name) \(request.setup.canonical)): product \(p.id!)")
                    print("  \(p.path)")
                    print("  night \(p.night), setup \(p.setup), Δt \(String(format: "%+.3f", chosen.deltaDays)) d, "
                          + (result.level.map { rule.levelName($0) } ?? result.basis.rawValue)
                          + ", QC \(p.qcPassed ? "passed" : "FAILED")")
                    for m in try database.metrics(ofProduct: p.id!) {
                        print("    \(m.name) = \(m.value.map { String(format: "%.4g", $0) } ?? "NaN") \(m.unit)\(m.passed ? "" : "  OUT OF RANGE")")
                    }
                } else {
                    print("no usable \(productType.rawValue) for \(night) (\(profile.name) \(request.setup.canonical))")
                }
                if !completion.completed.values.isEmpty {
                    print("setup completed: \(completion.completed.canonical) (every \(productType.rawValue) of \(profile.name)"
                          + "\(given.values.isEmpty ? "" : " with \(given.canonical)") has it)")
                }
                print("why: \(result.explanation)")
                if explain {
                    let pins = try database.pins(type: productType, instrument: profile.name, night: theNight)
                    if !pins.isEmpty {
                        print("\npins covering \(night) (\(pins.count)):")
                        for pin in pins {
                            print("  product \(pin.productId), setup \(pin.setup.canonical.isEmpty ? "(any: made before pins named their setup)" : pin.setup.canonical): \(pin.provenance)")
                        }
                    }
                    print("\ncandidates considered (\(result.verdicts.count)):")
                    print(table(["ID", "NIGHT", "SETUP", "ΔDAYS", "VERDICT"], result.verdicts.map { v in
                        [String(v.candidate.id), v.candidate.night.description, v.candidate.setup.canonical,
                         String(format: "%+.2f", v.deltaDays), v.rejection ?? "CHOSEN"]
                    }))
                }
            }
            if result.chosen == nil { throw ExitCode(ExitStatus.nothingQualifies.rawValue) }
        }
    }

    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Daemon state, queue depth, recent errors and the latest night's verdict.",
            discussion: "Example: calibctl status   |   calibctl status --short   |   calibctl status --night 2026-11-21")
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "This night's verdict instead of the latest night's (YYYY-MM-DD).") var night: String?
        @Flag(help: "Only one line per night (every night, or --night) and what did not pass.") var short = false

        func validate() throws { _ = try InputValidator.night(ifGiven: night) }

        func run() throws {
            let database = try global.openDatabase(readOnly: true)
            let nightStatus = NightStatus(builder: NightVerdictBuilder(configuration: try global.loadConfiguration(), database: database))
            if short && !output.json {
                return try nightStatus.render(night: night, short: true).forEach { print($0) }
            }
            let state = try database.daemonState()
            let counts = try database.jobCounts()
            let heartbeat = state["heartbeat"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) }
            let alive = heartbeat.map { Date().timeIntervalSince($0) < 10 } ?? false
            if output.json {
                // The daemon stores its times as epoch seconds in text; the answer carries them as times.
                return try printJSON(StatusJSON(
                    running: alive, paused: state["paused"] == "1", owner: state["owner"],
                    startedAt: state["started_at"].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) }, heartbeatAt: heartbeat,
                    watch: state["watch"]?.split(separator: "\n").map(String.init) ?? [],
                    jobs: Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0.rawValue, counts[$0] ?? 0) }),
                    frames: try database.frameCount(), database: database.displayLocation))
            }
            if alive, let started = state["started_at"].flatMap(Double.init) {
                print("calibd running (\(state["owner"] ?? "?")), up \(Int(Date().timeIntervalSince1970 - started)) s\(state["paused"] == "1" ? ", PAUSED" : "")")
                print("watching: \(state["watch"]?.replacingOccurrences(of: "\n", with: ", ") ?? "-")")
            } else {
                print("calibd not running (last heartbeat: \(heartbeat.map { "\($0)" } ?? "never"))")
            }
            print("database: \(database.displayLocation)")
            print("queue: " + JobState.allCases.compactMap { s in counts[s].map { "\(s.rawValue) \(s == .running ? "\($0)" : "\($0)")" } }.joined(separator: ", "))
            for job in try database.jobs(states: [.running]) {
                print("  running: job \(job.id!) \(job.recipe) \(job.night) \(job.setup) (attempt \(job.attempts), \(job.leaseOwner ?? "?"))")
            }
            let failed = try database.jobs(states: [.failed, .qcFailed]).suffix(5)
            if !failed.isEmpty {
                print("last errors:")
                for job in failed { print("  job \(job.id!) \(job.recipe) \(job.night): \(job.state.rawValue): \(job.reason ?? "")") }
            }
            print("")
            for line in try nightStatus.render(night: night, short: false) { print(line) }
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop starting new jobs (running jobs finish); ingest goes on.")
        @OptionGroup var global: GlobalOptions
        func run() throws { try global.openDatabase().setDaemonState("paused", "1"); global.wakeDaemon(); print("paused") }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start jobs again after pause.")
        @OptionGroup var global: GlobalOptions
        func run() throws { try global.openDatabase().setDaemonState("paused", "0"); global.wakeDaemon(); print("resumed") }
    }
}
