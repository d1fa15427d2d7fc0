import CalibCore
import CalibDB
import Foundation
import Pipeline
import Testing

/// The monitoring file node-exporter reads: Prometheus text format, counts that
/// agree with the database, written atomically where `metrics.textfile` says.
@Suite("Prometheus textfile", .serialized)
struct MetricsTextfileTests {
    /// `name{labels} value` lines, without comments.
    static func samples(_ text: String) -> [(series: String, value: Double)] {
        text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { return nil }
            return (String(line[..<space]), value)
        }
    }

    static func value(_ samples: [(series: String, value: Double)], _ name: String, _ labels: [String] = []) -> Double? {
        samples.first { s in
            (s.series == name || s.series.hasPrefix(name + "{")) && labels.allSatisfy { s.series.contains($0) }
        }?.value
    }

    @Test("Frames, jobs, products, queue, the last night's verdict and recipe durations agree with the database")
    func metricsAgreeWithDatabase() throws {
        // Given a processed night with one garbage file and metrics.textfile configured
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256, arms: "RED")
        try Data("not FITS".utf8).write(to: URL(fileURLWithPath: ws.raw + "/2026-11-21/junk.fits"))
        let textfile = ws.root + "/textfile/calibd.prom"
        try FileManager.default.createDirectory(atPath: ws.root + "/textfile", withIntermediateDirectories: true)
        let yaml = try String(contentsOfFile: ws.config, encoding: .utf8) + "\nmetrics:\n  textfile: ../textfile/calibd.prom\n"
        try yaml.write(toFile: ws.config, atomically: true, encoding: .utf8)
        // 0, or 1 (a finding) where calibd --once reports jobs that did not succeed (at 256 the arc QC may fail).
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")

        // When the daemon's writer runs (as the daemon will after each job and ingest batch)
        let configuration = try ConfigurationLoader.load(path: ws.config)
        #expect(configuration.metricsTextfile == textfile)
        let database = try CalibrationDatabase(path: configuration.database, readOnly: true)
        try MetricsTextfile(configuration: configuration, database: database).write()

        // Then the file is there, with nothing left beside it, and its numbers are the database's
        let text = try String(contentsOfFile: textfile, encoding: .utf8)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.root + "/textfile") == ["calibd.prom"])
        let samples = Self.samples(text)
        let biases = try database.frames().filter { $0.frame.frameType == .bias && $0.frame.status == .ok }.count
        #expect(biases > 0)
        #expect(Self.value(samples, "calibd_frames", ["type=\"BIAS\"", "status=\"ok\""]) == Double(biases))
        #expect(Self.value(samples, "calibd_frames", ["status=\"problem\""]) == 1)
        let jobs = try database.jobCounts()
        #expect(Self.value(samples, "calibd_jobs", ["state=\"succeeded\""]) == Double(jobs[.succeeded] ?? 0))
        #expect(Self.value(samples, "calibd_queue_depth") == 0)
        let products = try database.products(includeSuperseded: false)
        #expect(Self.value(samples, "calibd_products", ["type=\"MBIAS\"", "qc=\"passed\""]) == 1)
        let passedTotal = samples.filter { $0.series.hasPrefix("calibd_products{") && $0.series.contains("qc=\"passed\"") }.map(\.value).reduce(0, +)
        #expect(passedTotal == Double(products.filter(\.qcPassed).count))
        #expect(text.contains("calibd_last_night_info{night=\"2026-11-21\"} 1"))
        let verdict = try NightVerdictBuilder(configuration: configuration, database: database).verdict(night: "2026-11-21")
        #expect(Self.value(samples, "calibd_last_night_complete") == (verdict.isComplete ? 1 : 0))
        #expect(Self.value(samples, "calibd_last_night_settled") == 1)
        #expect(Self.value(samples, "calibd_last_night_expected_products") == Double(verdict.items.count))
        let finished = try database.jobs(night: "2026-11-21").compactMap(\.finishedAt).max()!
        #expect(abs(Self.value(samples, "calibd_last_night_completion_timestamp_seconds")! - finished.timeIntervalSince1970) < 1)
        // one duration per job that ran, by recipe
        let mbiasRuns = try database.jobs().filter { $0.recipe == "mbias" && $0.finishedAt != nil && $0.startedAt != nil }.count
        #expect(Self.value(samples, "calibd_recipe_duration_seconds_count", ["recipe=\"mbias\""]) == Double(mbiasRuns))
        #expect(text.contains("# TYPE calibd_recipe_duration_seconds histogram"))

        // calibctl prints the same metric families
        let printed = try ws.calibctl(["metrics"])
        #expect(printed.status == 0)
        #expect(printed.stdout.contains("calibd_last_night_complete "))
        // A file the collector would ignore is refused, with the reason (the exit status mapping is calibctl's, not this verb's).
        let refused = try ws.calibctl(["metrics", "--out", ws.root + "/x.txt"])
        #expect(refused.status != 0)
        #expect(refused.stderr.contains("*.prom"), "\(refused.stderr)")
        #expect(!FileManager.default.fileExists(atPath: ws.root + "/x.txt"))
    }

    @Test("metrics.textfile must name a .prom file: the collector ignores anything else")
    func textfileMustBeProm() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let yaml = try String(contentsOfFile: ws.config, encoding: .utf8) + "\nmetrics:\n  textfile: /tmp/calibd.txt\n"
        try yaml.write(toFile: ws.config, atomically: true, encoding: .utf8)
        #expect(throws: ConfigurationError.self) { try ConfigurationLoader.load(path: ws.config) }
        let check = try runCommand(Binaries.calibd, ["--config", ws.config, "--check-config"])
        #expect(check.status == 78)
        #expect(check.stdout.contains("metrics.textfile"), "\(check.stdout)")
    }
}
