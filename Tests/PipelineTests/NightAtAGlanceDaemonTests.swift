import CalibDB
import Foundation
import Testing

/// Issue #15's morning question, asked of a running daemon rather than a
/// batch run: when a night's work is done the daemon says so in one log
/// line, writes the night's report into the workspace and keeps the
/// monitoring file current, and `calibctl night` / `status --short` agree.
@Suite("The night at a glance from a running daemon", .serialized)
struct NightAtAGlanceDaemonTests {
    @Test("A night with a QC failure, a missing input set and two unusable files: one verdict line, the report, the metrics")
    func daemonReportsSettledNight() throws {
        // Given a RED night at 1024 with one flat 15 % too bright (flat/blaze fails its lamp-level QC),
        // no darks (no MDARK can be made) and two garbage files in its directory
        let ws = try TestWorkspace(settleSeconds: 2)
        defer { ws.remove() }
        let metrics = ws.root + "/metrics/calibd.prom"
        try FileManager.default.createDirectory(atPath: ws.root + "/metrics", withIntermediateDirectories: true)
        try (String(contentsOfFile: ws.config, encoding: .utf8) + "\nmetrics:\n  textfile: \(metrics)\n")
            .write(toFile: ws.config, atomically: true, encoding: .utf8)
        let simulated = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--out", ws.simulation, "--night", "2026-11-22",
                                                           "--size", "1024", "--arms", "RED", "--seed", "5", "--flat-scales", "1,1,1.15,1,1"])
        #expect(simulated.status == 0, "\(simulated.stderr)")
        let truth = try ws.truth(night: "2026-11-22")
        let darks = (truth["frames"] as? [[String: Any]] ?? []).filter { $0["kind"] as? String == "dark" }.compactMap { $0["file"] as? String }
        #expect(darks.count >= 3)
        for dark in darks { try FileManager.default.removeItem(atPath: ws.raw + "/2026-11-22/" + dark) }
        try Data("this is not FITS at all".utf8).write(to: URL(fileURLWithPath: ws.raw + "/2026-11-22/garbage1.fits"))
        try Data(repeating: 0x41, count: 5000).write(to: URL(fileURLWithPath: ws.raw + "/2026-11-22/garbage2.fits"))

        // When a daemon runs until the night settles
        let log = ws.root + "/calibd.log"
        let daemon = try DaemonProcess(config: ws.config, logLevel: "notice", log: log)
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        let settled = eventually(within: 240) { logText().contains("night 2026-11-22 incomplete:") }
        #expect(settled, "no verdict line in the log:\n\(logText().suffix(3000))")

        // Then one warning line names the QC failure, the missing product and the unusable files
        let lines = logText().split(separator: "\n").filter { $0.contains("night 2026-11-22 incomplete:") }
        #expect(lines.count == 1, "\(lines)")
        let line = String(lines.first ?? "")
        #expect(line.contains("warning"), "\(line)")
        #expect(line.contains("1 QC-failed (flatblaze arm=RED") && line.contains("lampLevelSpread="), "\(line)")
        #expect(line.contains("1 missing (mdark arm=RED"), "\(line)")
        #expect(line.contains("2 unusable files"), "\(line)")

        // And the report is in the workspace, verdict first, with pictures of the products
        let page = ws.workspace + "/reports/2026-11-22/index.html"
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: page) })
        let html = try String(contentsOfFile: page, encoding: .utf8)
        let verdictAt = try #require(html.range(of: "night 2026-11-22 incomplete"))
        #expect(html.range(of: "<img")?.lowerBound ?? html.startIndex > verdictAt.lowerBound, "the verdict must come before the pictures")
        #expect(html.contains(".png"))
        // (the index of nights is written just after the night's page)
        #expect(eventually(within: 10) { FileManager.default.fileExists(atPath: ws.workspace + "/reports/index.html") })

        // And the monitoring file says the same
        let prom = try String(contentsOfFile: metrics, encoding: .utf8)
        #expect(prom.contains("calibd_last_night_info{night=\"2026-11-22\"} 1"), "\(prom)")
        #expect(prom.contains("calibd_last_night_complete 0"), "\(prom)")
        #expect(prom.contains("calibd_last_night_settled 1"), "\(prom)")
        #expect(prom.contains("calibd_frames{type=\"UNKNOWN\",status=\"problem\"} 2"), "\(prom)")
        #expect(prom.contains("calibd_products{type=\"FLAT\",qc=\"failed\"} 1"), "\(prom)")

        // And calibctl night and status --short name the same things while the daemon runs
        let night = try ws.calibctl(["night", "2026-11-22"])
        #expect(night.status == 1)
        #expect(night.stdout.hasPrefix("night 2026-11-22 incomplete:"), "\(night.stdout)")
        let short = try ws.calibctl(["status", "--short"])
        #expect(short.stdout.contains("night 2026-11-22 incomplete:") && short.stdout.contains("mdark"), "\(short.stdout)")
        #expect(daemon.isRunning)
        #expect(daemon.stop())
    }
}

/// Someone edits calibd.yaml into one with findings while the daemon runs:
/// the recipe processes, which read the file themselves, cannot start. The
/// night must wait for the fix, not fail its jobs three times each.
@Suite("A configuration broken under a running daemon", .serialized)
struct BrokenConfigurationUnderDaemonTests {
    @Test("Jobs wait, uncounted, while the configuration file has findings, and run once it is fixed")
    func jobsWaitForTheFix() throws {
        // Given a running daemon whose file reader has already started (on a garbage file)
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try FileManager.default.createDirectory(atPath: ws.raw + "/2026-11-21", withIntermediateDirectories: true)
        try Data("not FITS".utf8).write(to: URL(fileURLWithPath: ws.raw + "/2026-11-21/garbage.fits"))
        let log = ws.root + "/calibd.log"
        let daemon = try DaemonProcess(config: ws.config, logLevel: "info", log: log)
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(eventually(within: 30) { ((try? CalibrationDatabase(path: ws.database).frameCount()) ?? 0) == 1 })

        // When the configuration file gains a misspelt key and a night arrives
        let good = try String(contentsOfFile: ws.config, encoding: .utf8)
        try (good + "\nworkerz: 3\n").write(toFile: ws.config, atomically: true, encoding: .utf8)
        let simulated = try runCommand(Binaries.calibctl, ["simulate", "--config", TestWorkspace.repositoryConfig + "/calibd.yaml",
                                                           "--out", ws.simulation, "--night", "2026-11-21", "--size", "256", "--arms", "RED"])
        #expect(simulated.status == 0, "\(simulated.stderr)")

        // Then the jobs are postponed with the reason, none fails, and the error is logged once
        let database = try CalibrationDatabase(path: ws.database)
        let postponed = try eventually(within: 60) {
            try database.jobs().contains { ($0.reason ?? "").contains("configuration file has findings") }
        }
        #expect(postponed, "\(logText().suffix(3000))")
        Thread.sleep(forTimeInterval: 8)
        let failedWhileBroken = try database.jobs(states: [.failed])
        #expect(failedWhileBroken.isEmpty, "\(failedWhileBroken.map { $0.reason ?? "" })")
        #expect(try database.jobs().allSatisfy { $0.attempts <= 1 }, "postponements must not use up attempts")
        #expect(logText().components(separatedBy: "jobs wait for the configuration to be fixed").count - 1 == 1, "\(logText().suffix(3000))")

        // And once the file is fixed, the night runs to its end on its own
        try good.write(toFile: ws.config, atomically: true, encoding: .utf8)
        let finished = try eventually(within: 120) {
            let jobs = try database.jobs()
            return !jobs.isEmpty && jobs.allSatisfy { $0.state.isTerminal } && jobs.contains { $0.state == .succeeded }
        }
        let states = try database.jobs().map { "\($0.recipe) \($0.state.rawValue) \($0.reason ?? "")" }
        #expect(finished, "\(states)")
        #expect(try database.jobs(states: [.failed]).isEmpty)
        #expect(daemon.stop())
    }
}
