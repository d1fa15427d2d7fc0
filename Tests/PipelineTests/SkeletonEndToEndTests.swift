import CalibDB
import FITS
import Foundation
import Glibc
import Testing

/// The walking skeleton, end to end with real processes, a real watcher, a
/// real SQLite file and real FITS files in a temporary directory.
@Suite("End to end: raw frames to a master bias in the database", .serialized)
struct SkeletonEndToEndTests {
    @Test("calibd --once records a simulated night and makes a master bias within 2 % of truth")
    func batchRun() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate()
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "warning"])
        #expect(run.batchRanToEnd, "calibd --once failed: \(run.stderr)")
        #expect(run.stdout.contains("18 frames recorded, 0 problems, 0 duplicates"))
        #expect(run.stdout.contains("MBIAS"))
        let database = try CalibrationDatabase(path: ws.database)
        // Every job planned ran: the master bias and the arc recipes downstream of it.
        #expect(jobsRun(run.stdout) == (try database.jobs()).count, "\(run.stdout)")
        #expect(try database.products(type: .masterBias).count == 1)

        let best = try #require(try ws.json(["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "arm=RED"]) as? [String: Any])
        let product = try #require(best["chosen"] as? [String: Any])
        let productId = try #require(product["id"] as? Int)
        let metrics = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: Int64(productId)).map { ($0.name, $0) })
        let detector = try #require(try ws.truth()["detector"] as? [String: Any])
        let truthNoise = try #require(detector["readNoiseADU"] as? Double)
        let truthLevel = try #require(detector["biasLevelADU"] as? Double) + (detector["biasPatternMeanADU"] as? Double ?? 0)
        let readNoise = try #require(metrics["readNoiseADU"]?.value)
        let level = try #require(metrics["biasLevelADU"]?.value)
        #expect(abs(readNoise / truthNoise - 1) < 0.02, "read noise \(readNoise) ADU vs truth \(truthNoise)")
        #expect(abs(level / truthLevel - 1) < 0.02, "bias level \(level) ADU vs truth \(truthLevel)")
        #expect(metrics.values.allSatisfy { $0.passed })
        #expect(try database.integrityCheck() == "ok")

        // The product is a complete FITS file with checksums and its provenance.
        let path = try #require(product["path"] as? String)
        let file = try FITSFile.open(path)
        #expect(try file.verifyChecksums().values.allSatisfy { $0 })
        try file.moveTo(hdu: 1)  // the master (the product also holds a BPM extension)
        let header = try file.readHeader()
        #expect(header.string("ESO PRO CATG") == "MBIAS")
        #expect(header.string("ESO PRO REC1 ID") == "mbias")
        #expect(header.string("ESO PRO REC1 RAW5 CATG") == "BIAS")
        #expect(header.string("CALIBD RAW1 SHA256")?.count == 64)
        #expect(abs((header.double("ESO QC READ NOISE ADU") ?? 0) - readNoise) < 1e-6)
        #expect(header.bool("CALIBD QC PASSED") == true)

        // A second batch run over the same files does nothing new.
        let productsAfterFirstRun = try database.products().count
        let again = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "warning"])
        #expect(again.stdout.contains("0 frames recorded, 0 problems, 0 duplicates, 0 jobs run"))
        // mbias, mdark, ordertrace and mflat on the RED night's frames.
        #expect(try database.products().count == productsAfterFirstRun)
    }

    @Test("The daemon ingests frames as they arrive in a new night directory and stops cleanly on SIGTERM")
    func liveDaemon() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: Binaries.calibd)
        daemon.arguments = ["--config", ws.config, "--log-level", "warning"]
        let log = FileHandle(forWritingAtPath: "/dev/null")
        daemon.standardOutput = log
        daemon.standardError = log
        try daemon.run()
        defer { if daemon.isRunning { kill(daemon.processIdentifier, SIGKILL) } }
        usleep(500_000)

        // The night directory is created after the daemon started: the watcher must pick it up.
        try ws.simulate()
        var best = CommandResult(status: 1, stdout: "", stderr: "")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            best = try ws.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-21", "--json"])
            if best.status == 0 { break }
            usleep(250_000)
        }
        #expect(best.status == 0, "no master bias within 60 s: \(best.stdout) \(best.stderr)")
        // Science frames may still be arriving after the biases made their product.
        var frames: [[String: Any]] = []
        while Date() < deadline {
            frames = try #require(try ws.json(["frames"]) as? [[String: Any]])
            if frames.count >= 18 { break }
            usleep(100_000)
        }
        #expect(frames.count == 18)
        // The whole chain (mbias → mdark/ordertrace → mflat) finishes before the stop is asked.
        let chainDeadline = Date().addingTimeInterval(90)
        while Date() < chainDeadline {
            if try ws.calibctl(["best", "--type", "MFLAT", "--night", "2026-11-21", "--json"]).status == 0,
               try ws.calibctl(["best", "--type", "MDARK", "--night", "2026-11-21", "--json"]).status == 0 { break }
            usleep(250_000)
        }
        let status = try ws.calibctl(["status"])
        #expect(status.stdout.contains("calibd running"))

        let stopAsked = Date()
        kill(daemon.processIdentifier, SIGTERM)
        while daemon.isRunning && Date().timeIntervalSince(stopAsked) < 10 { usleep(50_000) }
        #expect(!daemon.isRunning, "calibd did not stop within 10 s of SIGTERM")
        #expect(daemon.terminationStatus == 0)
        let database = try CalibrationDatabase(path: ws.database)
        // Graceful: what was running finished; queued work waits for the next start.
        #expect(try database.jobs(states: [.running]).isEmpty)
        #expect(try database.integrityCheck() == "ok")
    }

    @Test("Truncated, non-FITS and empty files are recorded with their reasons and the night still runs")
    func brokenFiles() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate()
        let night = ws.raw + "/2026-11-21"
        let frames = try FileManager.default.contentsOfDirectory(atPath: night).sorted()
        let sample = try Data(contentsOf: URL(fileURLWithPath: night + "/" + frames[0]))
        try sample.prefix(sample.count / 2).write(to: URL(fileURLWithPath: night + "/truncated.fits"))
        try Data("SIMPLE? not really, just text\n".utf8).write(to: URL(fileURLWithPath: night + "/notes.fits"))
        _ = FileManager.default.createFile(atPath: night + "/empty.fits", contents: Data())
        try sample.write(to: URL(fileURLWithPath: night + "/copy-of-first.fits"))  // same bytes, another name

        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd)
        #expect(run.stdout.contains("18 frames recorded, 3 problems, 1 duplicates,"), "\(run.stdout)")
        #expect(try CalibrationDatabase(path: ws.database).products(type: .masterBias).count == 1)
        #expect(jobsRun(run.stdout) == (try CalibrationDatabase(path: ws.database).jobs()).count, "\(run.stdout)")
        let problems = try #require(try ws.json(["frames", "--problems"]) as? [[String: Any]])
        func reason(_ name: String) -> String {
            let entry = problems.first { (($0["paths"] as? [String]) ?? []).contains { $0.hasSuffix("/" + name) } }
            return (entry?["problem"] as? String) ?? "(not listed)"
        }
        #expect(reason("truncated.fits").hasPrefix("truncated"))
        #expect(reason("notes.fits").hasPrefix("not a FITS file"))
        #expect(reason("empty.fits").contains("truncated") || reason("empty.fits").contains("not a FITS"))
        #expect(problems.count == 3)
    }

    /// The "N jobs run" count of a `calibd --once` summary line (nil when absent).
    func jobsRun(_ stdout: String) -> Int? {
        guard let range = stdout.range(of: #"(\d+) jobs run"#, options: .regularExpression) else { return nil }
        return Int(stdout[range].split(separator: " ")[0])
    }
}
