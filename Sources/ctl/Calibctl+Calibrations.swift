import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Pipeline

extension Calibctl {
    struct QC: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "qc", abstract: "QC metrics: one product's, a metric's trend, re-evaluation against current ranges.",
            subcommands: [Show.self, Trend.self, Reevaluate.self])

        struct Show: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Every QC metric of a product with its range and verdict.",
                                                            discussion: "Example: calibctl qc show 17")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "Product id.") var product: Int64

            func run() throws {
                let database = try global.openDatabase(readOnly: true)
                guard let p = try database.product(id: product) else {
                    throw UserFacingError(.noInput, "no product \(product)", remedy: "calibctl calibs lists the products")
                }
                let metrics = try database.metrics(ofProduct: product)
                if output.json { return try printJSON(metrics.map(QCMetricJSON.init)) }
                print("\(p.productType.rawValue) \(p.night) \(p.setup): QC \(p.qcPassed ? "PASS" : "FAIL")  \(p.path)")
                print(table(["METRIC", "VALUE", "UNIT", "RANGE", "VERDICT"], metrics.map { m in
                    [m.name, m.value.map { String(format: "%.6g", $0) } ?? "NaN", m.unit,
                     (m.rangeMin == nil && m.rangeMax == nil) ? "" : "[\(m.rangeMin.map { "\($0)" } ?? "-inf"), \(m.rangeMax.map { "\($0)" } ?? "+inf")]",
                     m.passed ? "ok" : "OUT OF RANGE"]
                }))
            }
        }

        struct Trend: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "A QC metric across nights (catches drifting detectors and ageing lamps).",
                discussion: "Example: calibctl qc trend readNoiseADU --type MBIAS --since 2026-10-01")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @Argument(help: "Metric name, e.g. readNoiseADU.") var metric: String
            @Option(help: "Product type.") var type: String?
            @Option(help: "First night YYYY-MM-DD.") var since: String?

            func validate() throws {
                _ = try InputValidator.productType(ifGiven: type)
                _ = try InputValidator.night(ifGiven: since, option: "--since")
            }

            func run() throws {
                // A misspelt metric would otherwise print a header and nothing under it.
                let metric = try InputValidator.metric(self.metric, in: try global.loadConfiguration())
                let points = try global.openDatabase(readOnly: true).trend(metric: metric, type: try InputValidator.productType(ifGiven: type), since: since)
                if output.json {
                    return try printJSON(points.map {
                        QCTrendPointJSON(night: $0.product.night, setup: $0.product.setup, productId: $0.product.id!, value: $0.value)
                    })
                }
                print(table(["NIGHT", "SETUP", "PRODUCT", metric.uppercased()], points.map {
                    [$0.product.night, $0.product.setup, "\($0.product.id!)", $0.value.map { String(format: "%.6g", $0) } ?? "NaN"]
                }))
            }
        }

        struct Reevaluate: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Apply the currently configured QC ranges to stored metrics, without re-running recipes.",
                discussion: """
                    Products whose verdict changes are updated with their jobs; the daemon then re-plans dependants \
                    whose best calibration changed. Example: calibctl qc reevaluate --night 2026-11-21 --type MFLAT
                    """)
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            @Option(help: "Only this night.") var night: String?
            @Option(help: "Only this product type.") var type: String?

            func validate() throws {
                _ = try InputValidator.night(ifGiven: night)
                _ = try InputValidator.productType(ifGiven: type)
            }

            func run() throws {
                let configuration = try global.loadConfiguration()
                let database = try global.openDatabase()
                let products = try database.products(type: try InputValidator.productType(ifGiven: type), night: night, includeSuperseded: false)
                let jobs = Dictionary(uniqueKeysWithValues: try database.jobs().map { ($0.id!, $0) })
                let changes = try database.reevaluateQC(products: products) { product in
                    guard let job = jobs[product.jobId],
                          let spec = configuration.profiles.first(where: { $0.name == product.instrument })?.recipe(named: job.recipe)
                    else { return [:] }
                    return spec.qc
                }
                if output.json { return try printJSON(changes) }
                print("\(products.count) products re-judged; \(changes.count) changed verdict")
                for c in changes {
                    print("  product \(c.productId) \(c.type.rawValue) \(c.night): \(c.wasPassed ? "pass" : "FAIL") → \(c.isPassed ? "pass" : "FAIL")"
                          + (c.failing.isEmpty ? "" : " (\(c.failing.joined(separator: "; ")))"))
                }
            }
        }
    }

    struct Pin: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Force a product to be the calibration used for a night or a range of nights.",
            subcommands: [Add.self, Remove.self, List.self])

        struct Add: ParsableCommand {
            static let configuration = CommandConfiguration(
                abstract: "Pin a product for its instrument, type and setup.",
                discussion: """
                    The pin applies to the product's setup on the association rule's match keys (or to the setup \
                    given with --setup, which must be the product's on those keys). A product that failed QC or \
                    whose file is missing is refused unless --force is given with a --note saying why; the force is \
                    recorded and shown by `pin list` and `best --explain`. A product of another setup is never pinned.
                    Examples:
                      calibctl pin add 17 --from 2026-11-20 --to 2026-11-23 --note 'lamp replaced'
                      calibctl pin add 9 --from 2026-11-21 --force --note 'only arc of the run; lines checked by hand'
                    """)
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Product id.") var product: Int64
            @Option(help: "First night.") var from: String
            @Option(help: "Last night (default: the first).") var to: String?
            @Option(help: "Setup terms key=value (default: the product's own on the match keys).") var setup: [String] = []
            @Option(help: "Why, for whoever looks later (required with --force).") var note: String = ""
            @Flag(help: "Pin a product that failed QC or whose file is missing (recorded with who, when and the note).")
            var force = false

            func validate() throws {
                let first = try InputValidator.night(from, option: "--from")
                let last = try InputValidator.night(to ?? from, option: "--to")
                guard first <= last else { throw UserFacingError(.usage, "--to \(last) comes before --from \(first)") }
                if force && note.trimmingCharacters(in: .whitespaces).isEmpty {
                    throw UserFacingError(.usage, "--force needs --note saying why the refusal is overridden",
                                          remedy: "e.g. --note 'only arc of the run; lines checked by hand'")
                }
            }

            func run() throws {
                let first = try InputValidator.night(from, option: "--from")
                let last = try InputValidator.night(to ?? from, option: "--to")
                let configuration = try global.loadConfiguration()
                let database = try global.openDatabase()
                guard let record = try database.product(id: product) else {
                    throw UserFacingError(.noInput, "no product \(product)", remedy: "calibctl calibs lists the products")
                }
                guard let profile = configuration.profiles.first(where: { $0.name == record.instrument }) else {
                    throw UserFacingError(.dataError, "product \(product) is of instrument \(record.instrument), which no loaded profile describes")
                }
                let matchKeys = profile.associationRule(for: record.productType).match ?? profile.setupKeys.keys.sorted()
                let given = try InputValidator.setup(setup, keys: profile.setupKeys.keys.sorted())
                let candidate = CalibrationCandidate(
                    id: product, type: record.productType, instrument: record.instrument,
                    night: ObservingNight(record.night) ?? first, setup: (try? Setup(parsing: record.setup)) ?? Setup(), mjd: record.mjd,
                    qcPassed: record.qcPassed, supersededBy: record.supersededBy, isReference: record.isReference,
                    isAvailable: record.availability == .available)
                let review = PinReview(product: candidate, matchKeys: matchKeys, given: given)
                if let mismatch = review.mismatch {
                    throw UserFacingError(.dataError, "pin refused: \(mismatch)",
                                          remedy: "pin a product of that setup (calibctl calibs --type \(record.productType.rawValue)), "
                                              + "or leave out --setup to pin it for its own")
                }
                if !review.forceable.isEmpty && !force {
                    throw UserFacingError(.dataError, "pin refused: \(review.forceable.joined(separator: "; "))",
                                          remedy: "to pin it anyway, give --force with --note saying why (recorded with your name)")
                }
                let forcedOver = review.forceable.isEmpty ? nil : review.forceable.joined(separator: "; ")
                let id: Int64
                do {
                    id = try database.addPin(productId: product, firstNight: first, lastNight: last, setup: review.setup,
                                             note: note, by: requester(), forcedOver: forcedOver)
                } catch let error as ControlError { throw userFacing(error) }
                print("pin \(id): product \(product) (\(record.productType.rawValue) \(record.instrument) \(review.setup.canonical)) "
                      + "for \(first)…\(last)" + (forcedOver.map { ", FORCED over: \($0)" } ?? ""))
            }
        }

        struct Remove: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Remove a pin.")
            @OptionGroup var global: GlobalOptions
            @Argument(help: "Pin id.") var pin: Int64
            func run() throws {
                do { try global.openDatabase().removePin(id: pin); print("pin \(pin) removed") } catch let error as ControlError {
                    throw userFacing(error)
                }
            }
        }

        struct List: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Pins in force, with who made them, when, and any force.")
            @OptionGroup var global: GlobalOptions
            @OptionGroup var output: OutputOptions
            func run() throws {
                let pins = try global.openDatabase().pinListing()
                if output.json { return try printJSON(pins.map { PinJSON(id: $0.id, pin: $0.pin, createdAt: $0.createdAt) }) }
                print(table(["PIN", "PRODUCT", "TYPE", "INSTRUMENT", "NIGHTS", "SETUP", "BY", "AT", "FORCED", "NOTE"], pins.map {
                    ["\($0.id)", "\($0.pin.productId)", $0.pin.type.rawValue, $0.pin.instrument, "\($0.pin.firstNight)…\($0.pin.lastNight)",
                     $0.pin.setup.canonical.isEmpty ? "(any)" : $0.pin.setup.canonical, $0.pin.createdBy,
                     ISO8601DateFormatter().string(from: $0.createdAt), $0.pin.forcedOver.map { "FORCED over: \($0)" } ?? "", $0.pin.note]
                }))
            }
        }
    }

    struct Reference: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Promote a product to reference calibration (the last fallback when no nightly product qualifies), or withdraw it.",
            discussion: "Examples: calibctl reference add 17   |   calibctl reference remove 17")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "add or remove") var action: String
        @Argument(help: "Product id.") var product: Int64

        func validate() throws {
            guard action == "add" || action == "remove" else { throw ValidationError("action must be 'add' or 'remove'") }
        }

        func run() throws {
            do {
                try global.openDatabase().setReference(productId: product, action == "add")
                print("product \(product) \(action == "add" ? "is now a reference calibration" : "is no longer a reference calibration")")
            } catch let error as ControlError { throw userFacing(error) }
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check that the database and the product files on disk agree.",
            discussion: """
                Reports products whose file is missing or changed (by SHA-256) and files under products/ that no \
                product records. With --repair: missing products are marked missing and their jobs re-run; \
                changed files and unrecorded files are moved to products/quarantine/ (changed products' jobs re-run). \
                Exit code 1 when anything disagrees. Example: calibctl verify --repair
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Flag(help: "Fix what disagrees.") var repair = false

        func run() throws {
            let configuration = try global.loadConfiguration()
            let database = try global.openDatabase()
            let report = try ProductVerifier(database: database, productsDirectory: configuration.productsDirectory)
                .verify(repair: repair, requestedBy: requester())
            if output.json { try printJSON(report) } else {
                print("\(report.checked) products checked: \(report.missing.count) missing, \(report.modified.count) changed, "
                      + "\(report.unrecorded.count) unrecorded files\(repair ? " (repaired)" : "")")
                for p in report.missing { print("  missing:    product \(p.id) \(p.type) \(p.path)") }
                for p in report.modified { print("  changed:    product \(p.id) \(p.type) \(p.path)") }
                for f in report.unrecorded { print("  unrecorded: \(f)") }
            }
            if !report.isClean && !repair { throw ExitCode(1) }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Export frames, jobs, products or QC metrics as JSON or CSV.",
            discussion: "Examples: calibctl export products --format csv > products.csv   |   calibctl export qc --night 2026-11-21")
        @OptionGroup var global: GlobalOptions
        @Argument(help: "frames, jobs, products or qc") var what: String
        @Option(help: "json or csv") var format: String = "json"
        @Option(help: "Only this night.") var night: String?

        func validate() throws {
            guard ["frames", "jobs", "products", "qc"].contains(what) else { throw ValidationError("export frames, jobs, products or qc") }
            guard ["json", "csv"].contains(format) else { throw ValidationError("--format json or csv") }
            _ = try InputValidator.night(ifGiven: night)
        }

        func run() throws {
            let database = try global.openDatabase(readOnly: true)
            // The same entities as the verbs' --json answers, so the keys (and CSV columns) agree.
            switch what {
            case "frames": try emit(try database.frames(night: night).map(FrameJSON.init))
            case "jobs": try emit(try database.jobs(night: night).map(JobJSON.init))
            case "products": try emit(try database.products(night: night).map { ProductJSON($0) })
            default: try emit(try database.products(night: night).flatMap { try database.metrics(ofProduct: $0.id!).map(QCMetricJSON.init) })
            }
        }

        private func emit<T: Encodable>(_ rows: [T]) throws {
            if format == "json" { return try printJSON(rows) }
            print(try TableExport.csv(rows, columns: []), terminator: "")
        }
    }
}

extension Calibctl {
    struct Report: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write an HTML night report: the verdict, what is missing and why, products with pictures, QC tables and plots, QC trends.",
            discussion: "Writes OUT/NIGHT/index.html and the index of nights OUT/index.html; prints the night page's path. Example: calibctl report --night 2026-11-21 --out /tmp/report")
        @OptionGroup var global: GlobalOptions
        @Option(help: "Observing night YYYY-MM-DD.") var night: String
        @Option(help: "Output directory.") var out: String
        @Option(help: "Nights of history in the trend plots.") var trendNights: Int = 30

        func run() throws {
            let theNight = try InputValidator.night(night)
            var report = NightReportHTML(database: try global.openDatabase(readOnly: true), configuration: try global.loadConfiguration())
            report.trendNights = trendNights
            print(try report.write(night: theNight, to: out))
        }
    }
}
