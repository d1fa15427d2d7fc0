import CalibCore
import CalibDB
import Foundation
import Mustache

/// The night report a person opens in a browser from the file system.
///
/// The verdict comes first (the same `NightVerdict` as `calibctl night`),
/// then what was not made or not passed and why, then each product with a
/// picture of its image linking to the FITS file and the job's log, its QC
/// table (out-of-range and ranged metrics shown, the rest folded), its QC
/// plots, and the QC trends across nights. A site root holds an index of
/// every night with its verdict; each night has its own directory:
///
///     ROOT/index.html                    nights and their verdicts
///     ROOT/2026-11-21/index.html         the night's page
///     ROOT/2026-11-21/plots/…svg         QC plots and trends
///     ROOT/2026-11-21/thumbs/…png        product pictures
///
/// Markup is in `ReportTemplates` (Mustache); this type gathers the values.
public struct NightReportHTML: Sendable {
    public let database: any CalibrationRegistry
    public let configuration: CalibdConfiguration
    /// Nights of history in the trend plots.
    public var trendNights: Int = 30

    public init(database: any CalibrationRegistry, configuration: CalibdConfiguration) {
        self.database = database; self.configuration = configuration
    }

    /// Where the daemon keeps its reports: `<workspace>/reports`.
    public var workspaceReports: String { (configuration.workspace as NSString).appendingPathComponent("reports") }

    /// Writes the night's page and refreshes the index of nights under `root`;
    /// returns the night page's path. The daemon calls it with `workspaceReports`
    /// when a night settles (`NightCompletionTracker`).
    @discardableResult
    public func write(night: ObservingNight, to root: String, now: Date = Date()) throws -> String {
        let n = night.description
        let directory = (root as NSString).appendingPathComponent(n)
        let fm = FileManager.default
        for sub in ["plots", "thumbs"] {
            try fm.createDirectory(atPath: directory + "/" + sub, withIntermediateDirectories: true)
        }
        let builder = NightVerdictBuilder(configuration: configuration, database: database)
        let verdict = try builder.verdict(night: n, now: now)
        let nights = try builder.nights()
        let page = directory + "/index.html"
        let context = try nightContext(verdict, nights: nights, directory: directory, now: now)
        try Self.render(ReportTemplates.nightPage, context).write(toFile: page, atomically: true, encoding: .utf8)
        try writeIndex(root: root, nights: nights, builder: builder, now: now)
        return page
    }

    /// The daemon's call when a night settles: the night's page in `<workspace>/reports/NIGHT/` and the index beside it.
    @discardableResult
    public func writeIntoWorkspace(night: ObservingNight, now: Date = Date()) throws -> String {
        try write(night: night, to: workspaceReports, now: now)
    }

    /// `ROOT/index.html`: every night, newest first, with its verdict line and a link where its page exists.
    public func writeIndex(root: String, nights: [String]? = nil, builder: NightVerdictBuilder? = nil, now: Date = Date()) throws {
        let builder = builder ?? NightVerdictBuilder(configuration: configuration, database: database)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let rows: [[String: Any]] = try (nights ?? builder.nights()).reversed().map { night in
            let verdict = try builder.verdict(night: night, now: now)
            var row: [String: Any] = ["night": night, "summary": verdict.summaryLine, "verdictClass": Self.verdictClass(verdict)]
            if FileManager.default.fileExists(atPath: "\(root)/\(night)/index.html") { row["href"] = "\(night)/index.html" }
            return row
        }
        let context: [String: Any] = ["style": ReportTemplates.style, "database": database.displayLocation, "root": root,
                                      "generated": ISO8601DateFormatter().string(from: now), "nights": rows]
        try Self.render(ReportTemplates.indexPage, context).write(toFile: root + "/index.html", atomically: true, encoding: .utf8)
    }

    func nightContext(_ verdict: NightVerdict, nights: [String], directory: String, now: Date) throws -> [String: Any] {
        let n = verdict.night
        let frames = try database.frames(night: n)
        let jobs = try database.jobs(night: n)
        let products = try database.products(night: n, includeSuperseded: false)
        let index = nights.firstIndex(of: n)
        // Products in the verdict's order (recipes in dependency order), then any other of the night.
        let order = verdict.items.flatMap { $0.products.map(\.id) }
        let sorted = products.sorted { (order.firstIndex(of: $0.id!) ?? Int.max, $0.id!) < (order.firstIndex(of: $1.id!) ?? Int.max, $1.id!) }

        var context: [String: Any] = [
            "style": ReportTemplates.style, "night": n, "summary": verdict.summaryLine, "verdictClass": Self.verdictClass(verdict),
            "frameCount": verdict.frameCount, "unusableCount": verdict.unusableFiles.count, "jobCount": jobs.count,
            "productCount": products.count, "generated": ISO8601DateFormatter().string(from: now), "database": database.displayLocation,
            "trendNights": trendNights,
        ]
        if let index, index > 0 { context["previous"] = nights[index - 1] }
        if let index, index + 1 < nights.count { context["next"] = nights[index + 1] }
        let notPassing: [[String: Any]] = verdict.notPassing.map { item in
            ["outcome": item.outcome.word, "outcomeClass": item.outcome == .waiting ? "wait" : "fail",
             "recipe": item.recipe, "setup": item.setup, "reason": item.reason ?? ""]
        }
        context["notPassing"] = notPassing
        context["hasNotPassing"] = !notPassing.isEmpty
        context["notPassingCount"] = notPassing.count
        context["products"] = try sorted.map { try productContext($0, directory: directory) }
        context["unusable"] = verdict.unusableFiles.map { ["path": $0.path, "reason": $0.reason] }
        context["hasUnusable"] = !verdict.unusableFiles.isEmpty
        let groups = Dictionary(grouping: frames.filter { $0.frame.status == .ok }) {
            "\($0.frame.frameType.rawValue)|\($0.frame.lamp ?? "")|\($0.frame.setup ?? "")"
        }
        context["frameGroups"] = groups.keys.sorted().map { key -> [String: Any] in
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            return ["type": parts[0], "lamp": parts[1], "setup": parts[2], "count": groups[key]!.count]
        }
        context["jobs"] = jobs.map { job -> [String: Any] in
            var seconds = ""
            if let start = job.startedAt, let end = job.finishedAt { seconds = String(format: "%.2f s", end.timeIntervalSince(start)) }
            let css = job.state == .succeeded ? "pass" : (job.state == .failed || job.state == .qcFailed) ? "fail" : ""
            return ["id": job.id!, "recipe": job.recipe, "setup": job.setup, "state": job.state.rawValue, "stateClass": css,
                    "attempts": job.attempts, "seconds": seconds, "reason": job.reason ?? ""]
        }
        let trends = try trends(products: products, night: n, directory: directory)
        context["failingTrends"] = trends.filter { $0["failing"] as? Bool == true }
        let folded = Dictionary(grouping: trends.filter { $0["failing"] as? Bool != true }) { $0["type"] as? String ?? "" }
        context["trendGroups"] = folded.keys.sorted().map { ["type": $0, "count": folded[$0]!.count, "trends": folded[$0]!] as [String: Any] }
        context["trends"] = trends
        return context
    }

    func productContext(_ product: ProductRecord, directory: String) throws -> [String: Any] {
        let fm = FileManager.default
        let metrics = try database.metrics(ofProduct: product.id!)
        let ranged = metrics.filter { $0.rangeMin != nil || $0.rangeMax != nil || !$0.passed }
        let folded = metrics.filter { !($0.rangeMin != nil || $0.rangeMax != nil || !$0.passed) }
        func value(_ m: QCMetricRecord) -> String { m.value.map { String(format: "%.5g", $0) } ?? "NaN" }
        var context: [String: Any] = [
            "id": product.id!, "type": product.productType.rawValue, "setup": product.setup, "shortSetup": Self.shortSetup(product.setup),
            "anchor": "product-\(product.id!)", "qcWord": product.qcPassed ? "PASS" : "FAIL", "qcClass": product.qcPassed ? "pass" : "fail",
            "fitsHref": URL(fileURLWithPath: product.path).absoluteString, "jobId": product.jobId,
            // Out-of-range first: what failed is what a person came to see.
            "shownMetrics": ranged.sorted { (!$0.passed ? 0 : 1, $0.name) < (!$1.passed ? 0 : 1, $1.name) }.map { m -> [String: Any] in
                let range = "[\(m.rangeMin.map { String(format: "%g", $0) } ?? "−∞"), \(m.rangeMax.map { String(format: "%g", $0) } ?? "+∞")]"
                return ["name": m.name, "value": value(m), "unit": m.unit, "range": range,
                        "verdict": m.passed ? "ok" : "out of range", "verdictClass": m.passed ? "pass" : "fail",
                        "rowClass": m.passed ? "" : "out-of-range"]
            },
            "foldedMetrics": folded.map { ["name": $0.name, "value": value($0), "unit": $0.unit] },
            "hasFolded": !folded.isEmpty, "foldedCount": folded.count,
        ]
        if let job = try database.job(id: product.jobId) {
            // The job runner's log path: logs/<night>/job-<id>-<recipe>.log.
            let log = (configuration.logsDirectory as NSString).appendingPathComponent("\(job.night)/job-\(job.id!)-\(job.recipe).log")
            if fm.fileExists(atPath: log) { context["logHref"] = URL(fileURLWithPath: log).absoluteString }
        }
        let used = try database.calibrations(ofJob: product.jobId)
        if !used.isEmpty {
            context["madeWith"] = used.sorted { $0.key.rawValue < $1.key.rawValue }
                .map { "\($0.key.rawValue) \($0.value.id!) (\($0.value.night))" }.joined(separator: ", ")
        }
        if fm.fileExists(atPath: product.path) {
            do {
                if let png = try ProductThumbnail.png(productPath: product.path, type: product.productType) {
                    let name = "thumbs/p\(product.id!).png"
                    try png.write(to: URL(fileURLWithPath: directory + "/" + name), options: .atomic)
                    context["thumbnail"] = name
                    context["thumbnailCaption"] = product.productType == .masterFlat
                        ? "z-scaled; traced order edges: lower orange, upper cyan" : "z-scaled image"
                }
            } catch {
                context["thumbnailCaption"] = "no picture: \(error)"
            }
        }
        let stem = ((product.path as NSString).lastPathComponent as NSString).deletingPathExtension
        var plots: [[String: Any]] = []
        for plot in Self.sidecarPlots(of: product.path) {
            let file = (plot as NSString).lastPathComponent
            let name = "plots/p\(product.id!)-" + file
            try? fm.removeItem(atPath: directory + "/" + name)
            try fm.copyItem(atPath: plot, toPath: directory + "/" + name)
            let caption = String(((file as NSString).deletingPathExtension).dropFirst(stem.count))
                .replacingOccurrences(of: "_", with: " ").trimmingCharacters(in: .whitespaces)
            plots.append(["src": name, "caption": "\(product.productType.rawValue) \(caption.isEmpty ? "plot" : caption)"])
        }
        // The first plot shown; the others folded (open when the product failed QC, where they explain why).
        context["plots"] = Array(plots.prefix(1))
        context["hasPlots"] = !plots.isEmpty
        context["morePlots"] = Array(plots.dropFirst())
        context["hasMorePlots"] = plots.count > 1
        context["morePlotCount"] = plots.count - 1
        context["qcFailed"] = !product.qcPassed
        return context
    }

    /// A trend plot per ranged metric of the night's products, over the last `trendNights` nights, with the QC range.
    func trends(products: [ProductRecord], night n: String, directory: String) throws -> [[String: Any]] {
        guard let night = ObservingNight(n) else { return [] }
        let since = night.adding(days: -trendNights).description
        var seen: Set<String> = [], out: [[String: Any]] = []
        for product in products {
            for metric in try database.metrics(ofProduct: product.id!) where metric.rangeMin != nil || metric.rangeMax != nil {
                let key = "\(product.productType.rawValue) \(metric.name)"
                guard seen.insert(key).inserted else { continue }
                let points = try database.trend(metric: metric.name, type: product.productType, since: since).filter { $0.product.night <= n }
                let bySetup = Dictionary(grouping: points) { $0.product.setup }
                let series = bySetup.keys.sorted().map { setup in
                    SVGChart.Series(name: Self.shortSetup(setup), points: bySetup[setup]!.compactMap { point in
                        guard let value = point.value, let pn = ObservingNight(point.product.night) else { return nil }
                        return SVGChart.Point(x: pn.startDateMJD, y: value, passed: point.product.qcPassed,
                                              label: "\(point.product.night) \(setup): \(value)")
                    })
                }
                var chart = SVGChart(title: key, xLabel: "night", yLabel: metric.unit.isEmpty ? metric.name : "\(metric.name) [\(metric.unit)]",
                                     series: series, band: (metric.rangeMin, metric.rangeMax),
                                     xTickText: { ObservingNight(mjdDate: $0).description })
                chart.xTicksAtPoints = true
                chart.width = 520; chart.height = 300
                let file = "plots/trend-\(product.productType.rawValue)-\(metric.name).svg"
                try chart.render().write(toFile: directory + "/" + file, atomically: true, encoding: .utf8)
                var failing = false
                for tonight in products where tonight.productType == product.productType && !tonight.qcPassed {
                    if try database.metrics(ofProduct: tonight.id!).contains(where: { $0.name == metric.name && !$0.passed }) { failing = true }
                }
                out.append(["src": file, "type": product.productType.rawValue, "failing": failing,
                            "caption": "\(key) by night; QC range \(SVGChart.rangeText((metric.rangeMin, metric.rangeMax)))"])
            }
        }
        return out
    }

    static func verdictClass(_ verdict: NightVerdict) -> String {
        verdict.isComplete ? "complete" : verdict.isSettled ? "incomplete" : "unfinished"
    }

    static func render(_ template: String, _ context: [String: Any]) throws -> String {
        try MustacheTemplate(string: template).render(context)
    }

    /// QC plot files written beside a product: same name without `.fits`, then `_…​.svg` or `.png`.
    static func sidecarPlots(of productPath: String) -> [String] {
        let directory = (productPath as NSString).deletingLastPathComponent
        let stem = ((productPath as NSString).lastPathComponent as NSString).deletingPathExtension
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        // The plot that says most about the product first (it is the one shown unfolded).
        let first = ["_edges.svg", "_qc.svg", "_lines.svg", "_centres.svg"]
        func rank(_ name: String) -> Int { first.firstIndex { name.hasSuffix($0) } ?? first.count }
        return names.filter { $0.hasPrefix(stem + "_") && ($0.hasSuffix(".svg") || $0.hasSuffix(".png")) }
            .sorted { (rank($0), $0) < (rank($1), $1) }
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    static func shortSetup(_ setup: String) -> String {
        setup.split(separator: " ").filter { $0.hasPrefix("arm=") || $0.hasPrefix("lamp=") || $0.hasPrefix("exptime=") }
            .joined(separator: " ").nilIfEmpty ?? setup
    }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
