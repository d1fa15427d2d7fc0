import CalibCore
import CalibDB
import Foundation
import Testing

@Suite("Association over a simulated week", .serialized)
struct AssociationWeekTests {
    @Test("One night's flats fail QC: its blaze uses the nearest passing flat and says so; relaxing the range re-plans it")
    func flickeringNight() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        for night in ["2026-11-21", "2026-11-23"] { try ws.simulate(night: night, size: 512) }
        // The 22nd's flat lamp flickers: three of five flats are more than 10 % off.
        let flicker = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--out", ws.simulation, "--night", "2026-11-22",
                                                         "--size", "512", "--arms", "RED", "--seed", "5", "--flat-scales", "1,0.6,1.4,1,0.7"])
        #expect(flicker.status == 0, "\(flicker.stderr)")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        // A QC failure is a finding: exit 1, and the summary says so.
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stdout.contains("failed QC"), "\(run.stdout)")
        let database = try CalibrationDatabase(path: ws.database)

        let masterFlats = try database.products(type: .masterFlat)
        let failed = try #require(masterFlats.first { $0.night == "2026-11-22" })
        #expect(!failed.qcPassed, "the flickering night's MFLAT should fail QC")
        #expect(try database.metrics(ofProduct: failed.id!).contains { $0.name == "rejectedFrames" && !$0.passed })

        // Its flat/blaze job was planned with a neighbouring night's MFLAT, and the choice is recorded in words.
        let job = try #require(try database.jobs(night: "2026-11-22").first { $0.recipe == "flatblaze" && $0.state != .superseded })
        let choice = try #require(try database.calibrationChoices(ofJob: job.id!).first { $0.type == .masterFlat })
        let used = try #require(try database.product(id: choice.productId))
        #expect(used.night != "2026-11-22" && used.qcPassed)
        #expect(choice.level == 1)
        #expect(choice.explanation.contains("level 1 (within 14 days)"))
        let shown = try ws.calibctl(["job", "show", "\(job.id!)"])
        #expect(shown.stdout.contains("MFLAT: product \(used.id!) (night \(used.night))"))
        let best = try ws.calibctl(["best", "--type", "MFLAT", "--night", "2026-11-22", "--setup", "arm=RED", "--explain"])
        #expect(best.stdout.contains("failed QC"))
        #expect(best.stdout.contains("product \(used.id!)"))

        // Relax the range and re-evaluate: the night's own MFLAT passes, and the next run re-plans its blaze with it.
        let profile = ws.root + "/config/instruments/simech.yaml"
        let text = try String(contentsOfFile: profile, encoding: .utf8)
        try text.replacingOccurrences(of: "rejectedFrames: {max: 1}", with: "rejectedFrames: {max: 3}")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let changes = try #require(try ws.json(["qc", "reevaluate", "--type", "MFLAT"]) as? [[String: Any]])
        #expect(changes.contains { $0["productId"] as? Int == Int(failed.id!) && $0["isPassed"] as? Bool == true })
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let replanned = try #require(try database.jobs(night: "2026-11-22").last { $0.recipe == "flatblaze" })
        #expect(replanned.id != job.id)
        let now = try #require(try database.calibrationChoices(ofJob: replanned.id!).first { $0.type == .masterFlat })
        #expect(now.productId == failed.id)
        #expect(now.level == 0)
        #expect(try database.job(id: job.id!)?.state == .superseded)
    }
}
