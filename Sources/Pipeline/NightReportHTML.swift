import CalibCore
import CalibDB
import Foundation

/// The night report a person opens in a browser from the file system:
/// frames received, jobs and their timings, every product with its QC table
/// and its QC plots, and trends of the QC metrics over recent nights.
public struct NightReportHTML: Sendable {
    public let database: CalibrationDatabase
    public let configuration: CalibdConfiguration
    /// Nights of history in the trend plots.
    public var trendNights: Int = 30

    public init(database: CalibrationDatabase, configuration: CalibdConfiguration) {
        self.database = database; self.configuration = configuration
    }

    /// Writes `index.html` and its plots into `directory`; returns the page's path.
    @discardableResult
    public func write(night: ObservingNight, to directory: String) throws -> String {
        let fm = FileManager.default
        try fm.createDirectory(atPath: directory + "/plots", withIntermediateDirectories: true)
        let n = night.description
        let frames = try database.frames(night: n)
        let problems = frames.filter { $0.frame.status == .problem }
        let jobs = try database.jobs(night: n)
        let products = try database.products(night: n, includeSuperseded: false)
        var html = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>calibd night report \(n)</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1100px; }
            h1 { font-size: 1.5em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2em; }
            table { border-collapse: collapse; margin: .5em 0 1em; font-size: .9em; }
            th, td { border: 1px solid #ddd; padding: 3px 8px; text-align: left; vertical-align: top; }
            th { background: #f3f3f3; } .pass { color: #1a7f37; font-weight: bold; } .fail { color: #c62828; font-weight: bold; }
            .product { border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; margin: 1em 0; }
            img, object { max-width: 100%; border: 1px solid #eee; margin: .3em 0; }
            code { font-size: .85em; }
            </style></head><body>
            <h1>calibd night report — \(n)</h1>
            <p>Generated \(Self.escape(ISO8601DateFormatter().string(from: Date()))) from <code>\(Self.escape(database.path))</code>.
            \(frames.count) frames, \(problems.count) unusable, \(jobs.count) jobs, \(products.count) current products.</p>

            """
        // Frames by type and setup.
        html += "<h2>Frames received</h2>\n<table><tr><th>type</th><th>lamp</th><th>setup</th><th>frames</th></tr>\n"
        let groups = Dictionary(grouping: frames.filter { $0.frame.status == .ok }) {
            "\($0.frame.frameType.rawValue)|\($0.frame.lamp ?? "")|\($0.frame.setup ?? "")"
        }
        for key in groups.keys.sorted() {
            let parts = key.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
            html += "<tr><td>\(parts[0])</td><td>\(Self.escape(parts[1]))</td><td>\(Self.escape(parts[2]))</td><td>\(groups[key]!.count)</td></tr>\n"
        }
        html += "</table>\n"
        if !problems.isEmpty {
            html += "<h3>Unusable files</h3>\n<table><tr><th>file</th><th>reason</th></tr>\n"
            for p in problems {
                html += "<tr><td><code>\(Self.escape(p.paths.first ?? p.frame.path))</code></td><td>\(Self.escape(p.frame.problem ?? ""))</td></tr>\n"
            }
            html += "</table>\n"
        }
        // Jobs and timings.
        html += "<h2>Jobs</h2>\n<table><tr><th>id</th><th>recipe</th><th>setup</th><th>state</th><th>attempts</th><th>run time</th><th>reason</th></tr>\n"
        for job in jobs {
            var seconds = ""
            if let start = job.startedAt, let end = job.finishedAt { seconds = String(format: "%.2f s", end.timeIntervalSince(start)) }
            let css = job.state == .succeeded ? "pass" : (job.state == .failed || job.state == .qcFailed) ? "fail" : ""
            html += "<tr><td>\(job.id!)</td><td>\(job.recipe)</td><td>\(Self.escape(job.setup))</td><td class=\"\(css)\">\(job.state.rawValue)</td>"
                + "<td>\(job.attempts)</td><td>\(seconds)</td><td>\(Self.escape(job.reason ?? ""))</td></tr>\n"
        }
        html += "</table>\n"
        // Products with QC and their plots.
        html += "<h2>Products</h2>\n"
        for product in products {
            let metrics = try database.metrics(ofProduct: product.id!)
            html += "<div class=\"product\"><h3>\(product.productType.rawValue) — \(Self.escape(product.setup)) "
                + "<span class=\"\(product.qcPassed ? "pass" : "fail")\">QC \(product.qcPassed ? "PASS" : "FAIL")</span></h3>\n"
            html += "<p><code>\(Self.escape(product.path))</code> (product \(product.id!), job \(product.jobId))</p>\n"
            let used = try database.calibrations(ofJob: product.jobId)
            if !used.isEmpty {
                html += "<p>Made with: " + used.sorted { $0.key.rawValue < $1.key.rawValue }
                    .map { "\($0.key.rawValue) product \($0.value.id!) (night \($0.value.night))" }.joined(separator: ", ") + "</p>\n"
            }
            html += "<table><tr><th>metric</th><th>value</th><th>unit</th><th>range</th><th></th></tr>\n"
            for m in metrics {
                let range = (m.rangeMin == nil && m.rangeMax == nil) ? "" : "[\(m.rangeMin.map { "\($0)" } ?? "−∞"), \(m.rangeMax.map { "\($0)" } ?? "+∞")]"
                html += "<tr><td>\(m.name)</td><td>\(m.value.map { String(format: "%.5g", $0) } ?? "NaN")</td><td>\(m.unit)</td><td>\(range)</td>"
                    + "<td class=\"\(m.passed ? "pass" : "fail")\">\(range.isEmpty ? "" : (m.passed ? "ok" : "out of range"))</td></tr>\n"
            }
            html += "</table>\n"
            for plot in Self.sidecarPlots(of: product.path) {
                let name = "p\(product.id!)-" + (plot as NSString).lastPathComponent
                try? fm.removeItem(atPath: directory + "/plots/" + name)
                try fm.copyItem(atPath: plot, toPath: directory + "/plots/" + name)
                html += "<div><img src=\"plots/\(Self.escape(name))\" alt=\"\(Self.escape((plot as NSString).lastPathComponent))\"></div>\n"
            }
            html += "</div>\n"
        }
        // Trends of every ranged metric over the last nights.
        html += "<h2>QC trends (last \(trendNights) nights)</h2>\n"
        let since = night.adding(days: -trendNights).description
        var seen: Set<String> = []
        for product in products {
            for metric in try database.metrics(ofProduct: product.id!) where metric.rangeMin != nil || metric.rangeMax != nil {
                let key = "\(product.productType.rawValue) \(metric.name)"
                guard seen.insert(key).inserted else { continue }
                let points = try database.trend(metric: metric.name, type: product.productType, since: since)
                    .filter { $0.product.night <= n }
                let bySetup = Dictionary(grouping: points) { $0.product.setup }
                let series = bySetup.keys.sorted().map { setup in
                    SVGChart.Series(name: Self.shortSetup(setup), points: bySetup[setup]!.compactMap { point in
                        guard let value = point.value, let pn = ObservingNight(point.product.night) else { return nil }
                        return SVGChart.Point(x: pn.startDateMJD, y: value, passed: point.product.qcPassed,
                                              label: "\(point.product.night) \(setup): \(value)")
                    })
                }
                let chart = SVGChart(title: key, xLabel: "night", yLabel: metric.unit.isEmpty ? metric.name : "\(metric.name) [\(metric.unit)]",
                                     series: series, band: (metric.rangeMin, metric.rangeMax),
                                     xTickText: { ObservingNight(mjdDate: $0).description })
                let file = "trend-\(product.productType.rawValue)-\(metric.name).svg"
                try chart.render().write(toFile: directory + "/plots/" + file, atomically: true, encoding: .utf8)
                html += "<div><img src=\"plots/\(file)\" alt=\"\(Self.escape(key)) trend\"></div>\n"
            }
        }
        html += "</body></html>\n"
        let page = directory + "/index.html"
        try html.write(toFile: page, atomically: true, encoding: .utf8)
        return page
    }

    /// QC plot files written beside a product: same name without `.fits`, then `_…​.svg` or `.png`.
    static func sidecarPlots(of productPath: String) -> [String] {
        let directory = (productPath as NSString).deletingLastPathComponent
        let stem = ((productPath as NSString).lastPathComponent as NSString).deletingPathExtension
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix(stem) && ($0.hasSuffix(".svg") || $0.hasSuffix(".png")) }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    static func shortSetup(_ setup: String) -> String {
        setup.split(separator: " ").filter { $0.hasPrefix("arm=") || $0.hasPrefix("lamp=") || $0.hasPrefix("exptime=") }
            .joined(separator: " ").nilIfEmpty ?? setup
    }

    static func escape(_ s: String) -> String { SVGChart.escape(s) }
}

extension String {
    var nilIfEmpty: String? { isEmpty ? nil : self }
}
