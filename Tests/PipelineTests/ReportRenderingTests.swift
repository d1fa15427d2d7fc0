import Foundation
import Testing

/// The night report as a browser shows it: headless Chromium renders the
/// page; its DOM and its SVG plots are checked, and a screenshot is kept.
@Suite("Night report in a browser", .serialized)
struct ReportRenderingTests {
    static let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

    @Test("Verdict first, thumbnails and plots present, every plot axis readable (finite, distinct, sane scale)",
          .enabled(if: chromium != nil, "chromium is not installed (apt-get install -y chromium): the browser check is skipped"))
    func reportInChromium() throws {
        let chromium = try #require(Self.chromium)
        // Given a two-arm night at 1024 (where the arc recipes pass, so there is a wavelength map to picture), processed.
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 1024, arms: "BLUE,RED")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")  // 1: a job did not succeed (calibd --once reports it)
        // When the report is written and rendered
        let out = ws.root + "/report"
        let written = try ws.calibctl(["report", "--night", "2026-11-21", "--out", out])
        #expect(written.status == 0, "\(written.stderr)")
        let page = out + "/2026-11-21/index.html"
        let dom = try runCommand(chromium, ["--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", "file://" + page], timeout: 120)
        #expect(dom.status == 0, "\(dom.stderr)")
        let html = dom.stdout

        // Then the verdict comes before anything else of substance
        let verdict = try #require(html.range(of: "id=\"verdict\""))
        #expect(html.range(of: "id=\"toc\"").map { $0.lowerBound > verdict.lowerBound } == true)
        #expect(html.contains("night 2026-11-21 complete:") || html.contains("night 2026-11-21 incomplete:"))
        // thumbnails of the master bias, dark, flat and wavelength map of each arm, as real PNGs
        let thumbnails = Self.attribute("src", ofTagsWithClass: "thumbnail", in: html)
        #expect(thumbnails.count == 8, "\(thumbnails)")
        #expect(html.contains("alt=\"DISP_IMAGE arm=RED"), "no picture of the 2D wavelength map")
        for thumbnail in thumbnails {
            let png = try Data(contentsOf: URL(fileURLWithPath: out + "/2026-11-21/" + thumbnail))
            #expect(png.prefix(8) == Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]), "\(thumbnail) is not a PNG")
            let width = png[16..<20].reduce(0) { $0 << 8 | Int($1) }, height = png[20..<24].reduce(0) { $0 << 8 | Int($1) }
            #expect(width >= 64 && width <= 320 && height >= 64 && height <= 320, "\(thumbnail): \(width)×\(height)")
        }
        // each thumbnail links to its FITS file, and every product has a FITS link
        #expect(html.components(separatedBy: "class=\"fits\"").count - 1 >= thumbnails.count)
        // plots and trends present
        let plots = Self.attribute("src", ofTagsWithClass: "plot", in: html)
        let trends = Self.attribute("src", ofTagsWithClass: "trend", in: html)
        #expect(plots.count >= 10, "\(plots.count) product plots")
        #expect(!trends.isEmpty)
        // BLAZE and E2DS plots are different pictures
        let blaze = try #require(plots.first { $0.contains("_BLAZE_") }), e2ds = try #require(plots.first { $0.contains("_E2DS_") })
        #expect(try Data(contentsOf: URL(fileURLWithPath: out + "/2026-11-21/" + blaze))
                != Data(contentsOf: URL(fileURLWithPath: out + "/2026-11-21/" + e2ds)))

        // No plot has degenerate axis labels
        var axesChecked = 0
        for plot in plots + trends where plot.hasSuffix(".svg") {
            let svg = try String(contentsOfFile: out + "/2026-11-21/" + plot, encoding: .utf8)
            for (axis, labels) in Self.tickLabels(in: svg) {
                axesChecked += 1
                #expect(Set(labels).count == labels.count, "\(plot) \(axis) repeats a tick: \(labels)")
                if labels.allSatisfy({ Double($0) != nil }) {
                    let values = labels.compactMap(Double.init).sorted()
                    #expect(values.allSatisfy { $0.isFinite }, "\(plot) \(axis): \(labels)")
                    #expect(values.allSatisfy { abs($0) < 1e12 }, "\(plot) \(axis) runs to \(values.last!): \(labels)")
                    if values.count > 1 {
                        let spacing = zip(values.dropFirst(), values).map { $0 - $1 }.min()!
                        let scale = values.map(abs).max()!
                        #expect(spacing > 0 && scale / spacing < 1e6, "\(plot) \(axis): \(labels)")
                    }
                } else {
                    #expect(axis.hasPrefix("tick-x") && plot.contains("trend-"), "\(plot) \(axis) has non-numeric ticks: \(labels)")
                }
            }
            // Every text is at least 11 px
            for size in Self.fontSizes(in: svg) { #expect(size >= 11, "\(plot) has \(size) px text") }
        }
        #expect(axesChecked >= 10)

        // And a screenshot shows the page (kept for a person to look at when CALIBD_KEEP_SCREENSHOT is set)
        let screenshot = ws.root + "/report.png"
        let shot = try runCommand("/bin/bash", [Self.repository + "/scripts/report-screenshot.sh", page, screenshot], timeout: 120)
        #expect(shot.status == 0, "\(shot.stderr)")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 20_000, "screenshot of \(png.count) bytes")
        if let keep = ProcessInfo.processInfo.environment["CALIBD_KEEP_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: screenshot, toPath: keep)
            try? FileManager.default.removeItem(atPath: keep + ".html.d")
            try FileManager.default.copyItem(atPath: out, toPath: keep + ".html.d")
        }
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// `src` of every `<img class="CLASS" …>`.
    static func attribute(_ name: String, ofTagsWithClass cls: String, in html: String) -> [String] {
        html.components(separatedBy: "<img").dropFirst().compactMap { tag -> String? in
            let head = tag.prefix { $0 != ">" }
            guard head.contains("class=\"\(cls)\""), let start = head.range(of: "\(name)=\"") else { return nil }
            return String(head[start.upperBound...].prefix { $0 != "\"" })
        }
    }

    /// Tick labels by axis: the text of every `<text class="tick-x …" …>…</text>` (and tick-y),
    /// grouped by the whole class (a figure of several panels names each panel's axes apart).
    static func tickLabels(in svg: String) -> [String: [String]] {
        var axes: [String: [String]] = [:]
        for tail in svg.components(separatedBy: "<text class=\"tick-").dropFirst() {
            guard let classEnd = tail.firstIndex(of: "\""), let open = tail.firstIndex(of: ">"),
                  let close = tail.range(of: "</text>") else { continue }
            axes["tick-" + tail[..<classEnd], default: []].append(String(tail[tail.index(after: open)..<close.lowerBound]))
        }
        return axes
    }

    static func fontSizes(in svg: String) -> [Double] {
        svg.components(separatedBy: "font-size=\"").dropFirst().compactMap { Double($0.prefix { $0 != "\"" }) }
    }
}
