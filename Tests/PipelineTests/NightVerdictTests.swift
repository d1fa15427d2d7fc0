import CalibDB
import Foundation
import Testing

/// The night at a glance: `calibctl night`, `calibctl status --short` and the
/// `calibd --once` summary name every expected product that is not there or
/// not good, with the reason, and count the night's unusable files.
@Suite("Night verdict", .serialized)
struct NightVerdictTests {
    /// Given a clean night (the 21st) and a bad one (the 22nd: the flat lamp
    /// has one flat 15 % too bright, the darks were never taken, two files in its directory are garbage).
    /// At 1024, where the arc recipes pass on the simulator (at 512 their QC fails).
    func twoNights() throws -> (TestWorkspace, CommandResult) {
        let ws = try TestWorkspace()
        try ws.simulate(night: "2026-11-21", size: 1024)
        let flicker = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--out", ws.simulation, "--night", "2026-11-22",
                                                         "--size", "1024", "--arms", "RED", "--seed", "5", "--flat-scales", "1,1,1.15,1,1"])
        #expect(flicker.status == 0, "\(flicker.stderr)")
        let truth = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: ws.simulation + "/truth/2026-11-22/truth.json")))
        let frames = try #require(((truth as? [String: Any])?["arms"] as? [String: Any])?["RED"] as? [String: Any])["frames"] as? [[String: Any]]
        let darks = try #require(frames).filter { $0["kind"] as? String == "dark" }.compactMap { $0["file"] as? String }
        #expect(darks.count >= 3)
        for dark in darks { try FileManager.default.removeItem(atPath: ws.raw + "/2026-11-22/" + dark) }
        try Data("this is not FITS at all".utf8).write(to: URL(fileURLWithPath: ws.raw + "/2026-11-22/garbage1.fits"))
        try Data(repeating: 0x41, count: 5000).write(to: URL(fileURLWithPath: ws.raw + "/2026-11-22/garbage2.fits"))
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        // The batch ran to its end: 0, or 1 (a finding) where calibd --once reports jobs that did not succeed.
        #expect(run.status == 0 || run.status == 1, "\(run.stderr)")
        return (ws, run)
    }

    @Test("A night with a QC failure, a missing input set and two unusable files names each; a clean night is complete")
    func badNightNamesEachProblem() throws {
        let (ws, run) = try twoNights()
        defer { ws.remove() }

        // When the bad night is asked for
        let night = try ws.calibctl(["night", "2026-11-22"])
        // Then it is incomplete (exit 1) and says what and why
        #expect(night.status == 1, "\(night.stdout)\(night.stderr)")
        let summary = try #require(night.stdout.split(separator: "\n").first.map(String.init))
        #expect(summary.hasPrefix("night 2026-11-22 incomplete:"), "\(summary)")
        // One frame off: the master flat leaves it out (at most one may be), but the flat/blaze recipe's lamp-level QC fails.
        #expect(summary.contains("1 QC-failed (flatblaze arm=RED") && summary.contains("lampLevelSpread="), "\(summary)")
        #expect(summary.contains("1 missing (mdark arm=RED"), "\(summary)")
        #expect(summary.contains("2 unusable files"), "\(summary)")
        #expect(night.stdout.contains("no DARK frames for arm=RED binx=4 biny=4"), "\(night.stdout)")
        #expect(night.stdout.contains("(needs ≥ 3)"), "\(night.stdout)")
        for garbage in ["garbage1.fits", "garbage2.fits"] {
            #expect(night.stdout.contains("unusable   \(ws.raw)/2026-11-22/\(garbage)"), "\(night.stdout)")
        }

        // The JSON holds the same facts, structured
        let answer = try ws.calibctl(["night", "2026-11-22", "--json"])
        #expect(answer.status == 1)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(answer.stdout.utf8)) as? [String: Any])
        #expect(json["complete"] as? Bool == false)
        #expect(json["settled"] as? Bool == true)
        let items = try #require(json["items"] as? [[String: Any]])
        let byOutcome = Dictionary(grouping: items) { $0["outcome"] as? String ?? "" }
        #expect(byOutcome["qc_failed"]?.count == 1)
        #expect(byOutcome["not_possible"]?.count == 1)
        #expect(byOutcome["failed"] == nil && byOutcome["waiting"] == nil)
        let qcFailed = try #require(byOutcome["qc_failed"]?.first)
        #expect(qcFailed["recipe"] as? String == "flatblaze")
        let metric = try #require((qcFailed["failedMetrics"] as? [[String: Any]])?.first { $0["name"] as? String == "lampLevelSpread" })
        let database = try CalibrationDatabase(path: ws.database)
        let flat = try #require(try database.products(type: .flat, night: "2026-11-22", includeSuperseded: false).first)
        let stored = try #require(try database.metrics(ofProduct: flat.id!).first { $0.name == "lampLevelSpread" })
        #expect(stored.passed == false)
        // JSON carries the stored value (to the last digit JSONSerialization's parsing allows).
        #expect(abs((metric["value"] as? Double ?? .nan) - (stored.value ?? .nan)) <= 1e-12 * abs(stored.value ?? 1))
        #expect(metric["max"] as? Double == stored.rangeMax)
        #expect((json["unusableFiles"] as? [[String: Any]])?.count == 2)
        // Every other recipe of the profile passed: expected = passed + the two problems.
        let recipes = try #require(Set(items.compactMap { $0["recipe"] as? String }))
        #expect(recipes == ["mbias", "mdark", "ordertrace", "mflat", "flatblaze", "disp_solution", "spatial_solution", "lamp_flux"])
        #expect(byOutcome["passed"]?.count == items.count - 2)

        // And the clean night is complete, exit 0
        let clean = try ws.calibctl(["night", "2026-11-21"])
        #expect(clean.status == 0, "\(clean.stdout)")
        #expect(clean.stdout.hasPrefix("night 2026-11-21 complete: 8/8 products QC-passed, 0 missing"), "\(clean.stdout)")

        // status --short: one line per night, then the bad night's problems
        let short = try ws.calibctl(["status", "--short"])
        #expect(short.status == 0)
        let lines = short.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.hasPrefix("night 2026-11-21 complete") == true, "\(short.stdout)")
        #expect(lines.count == 1 + 1 + 2 + 2, "\(short.stdout)")
        #expect(lines.contains { $0.contains("QC-failed") && $0.contains("flatblaze arm=RED") && $0.contains("lampLevelSpread=") })
        #expect(lines.contains { $0.contains("missing") && $0.contains("mdark arm=RED") && $0.contains("no DARK frames") })
        #expect(lines.filter { $0.contains("unusable") && $0.contains("/2026-11-22/garbage") }.count == 2)
        // status --night limits it to that night
        let one = try ws.calibctl(["status", "--short", "--night", "2026-11-21"])
        #expect(one.stdout.split(separator: "\n").count == 1, "\(one.stdout)")

        // The batch summary: a verdict per night, what did not pass, no metric rows, and where to look
        #expect(run.stdout.contains("night 2026-11-21 complete: 8/8"), "\(run.stdout)")
        #expect(run.stdout.contains("night 2026-11-22 incomplete:"), "\(run.stdout)")
        #expect(run.stdout.contains("calibctl night 2026-11-22"))
        #expect(!run.stdout.contains("readNoiseADU"), "the summary should not list every metric")
        #expect(run.stdout.split(separator: "\n").count <= 40, "\(run.stdout)")

        // And the batch wrote each night's report into the workspace, with an index of verdicts, and says where
        let reports = ws.workspace + "/reports"
        #expect(run.stdout.contains("report: \(reports)/2026-11-22/index.html"), "\(run.stdout)")
        for night in ["2026-11-21", "2026-11-22"] {
            #expect(FileManager.default.fileExists(atPath: "\(reports)/\(night)/index.html"), "no report for \(night)")
        }
        let index = try String(contentsOfFile: reports + "/index.html", encoding: .utf8)
        #expect(index.contains("night 2026-11-22 incomplete") && index.contains("night 2026-11-21 complete"))
    }
}
