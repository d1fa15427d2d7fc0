import CalibDB
import Foundation
import Glibc
import Testing

/// Files and recipes that crash their worker process never take the daemon
/// down: the crash is recorded against the file or the job, with its reason,
/// and everything else goes on. The crashes are made by the fault-injection
/// hook `CALIBD_TEST_TRAP_ON` (read only by worker processes), which makes a
/// worker hit a real Swift runtime trap.
/// Each job as "recipe state attempts reason", for failure messages.
func jobSummary(_ database: CalibrationDatabase) -> [String] {
    ((try? database.jobs()) ?? []).map { "\($0.recipe) \($0.state.rawValue) \($0.attempts) \($0.reason ?? "")" }
}

@Suite("Crash isolation", .serialized)
struct CrashIsolationTests {
    /// A small valid FITS file the SIMECH profile claims, with its own bytes.
    func writePoisonedFile(_ path: String) throws {
        try rawFITS([card("SIMPLE", "T"), card("BITPIX", "16"), card("NAXIS", "0"), card("INSTRUME", "'SIMECH'"),
                     card("HIERARCH ESO DPR CATG", "'CALIB'"), card("HIERARCH ESO DPR TYPE", "'BIAS'"),
                     card("HIERARCH ESO DPR TECH", "'IMAGE'"), card("MJD-OBS", "61365.9"), card("EXPTIME", "0.0")])
            .write(to: URL(fileURLWithPath: path))
    }

    @Test("A batch with a file that crashes the reader: the good files are recorded, the poisoned one is named, the daemon keeps running")
    func poisonedFileInBatch() throws {
        // Given a night with a poisoned file in the middle of it, all present when the daemon starts (one batch)
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        let night = ws.raw + "/2026-11-21"
        let names = try FileManager.default.contentsOfDirectory(atPath: night).sorted()
        let poisoned = night + "/" + names[names.count / 2].replacingOccurrences(of: ".fits", with: ".poison.fits")
        try writePoisonedFile(poisoned)
        // When the daemon's reader traps on it
        let daemon = try DaemonProcess(config: ws.config, environment: ["CALIBD_TEST_TRAP_ON": "file:poison"])
        let database = try CalibrationDatabase(path: ws.database)
        let recorded = try eventually(within: 60) { try database.frameCount() == 19 }
        // Then the 18 good frames are usable and the poisoned one is a problem naming the crash
        #expect(recorded, "frames: \((try? database.frameCount()) ?? -1)")
        let frames = try database.frames()
        #expect(frames.filter { $0.frame.status == .ok }.count == 18)
        let problem = try #require(frames.first { $0.paths.contains(poisoned) })
        #expect(problem.frame.status == .problem)
        #expect(problem.frame.problem == "reading this file crashed the reader: signal 4 (SIGILL, a Swift runtime trap)",
                "\(problem.frame.problem ?? "")")
        // And the night's work goes on in the same daemon
        #expect(try eventually(within: 90) { !(try database.products(type: .masterBias)).isEmpty })
        #expect(daemon.isRunning)
        let listing = try ws.calibctl(["frames", "--problems"])
        #expect(listing.stdout.contains("crashed the reader"))
        #expect(daemon.stop())
    }

    @Test("calibd --once reads through a poisoned file the same way and exits normally")
    func poisonedFileOnce() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        try writePoisonedFile(ws.raw + "/2026-11-21/A.poison.fits")
        let result = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"],
                                    addingEnvironment: ["CALIBD_TEST_TRAP_ON": "file:poison"])
        #expect(result.batchRanToEnd, "\(result.stderr)")
        #expect(result.stdout.contains("18 frames recorded, 1 problems"), "\(result.stdout)")
        let database = try CalibrationDatabase(path: ws.database)
        #expect(try database.frames().contains { ($0.frame.problem ?? "").contains("crashed the reader: signal 4") })
        #expect(try database.jobs(states: [.failed]).isEmpty)
    }

    @Test("A recipe that traps is failed after 3 crashes with the reason, the rest of the night completes, and its dependants say why they wait")
    func trappingRecipe() throws {
        // Given a night whose order trace traps the recipe process every time
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        let daemon = try DaemonProcess(config: ws.config, environment: ["CALIBD_TEST_TRAP_ON": "recipe:ordertrace"])
        let database = try CalibrationDatabase(path: ws.database)
        // When the daemon has tried it as often as allowed
        let failed = try eventually(within: 120) {
            try database.jobs().contains { $0.recipe == "ordertrace" && $0.state == .failed }
        }
        #expect(failed, "\(jobSummary(database))")
        let trace = try #require(try database.jobs().first { $0.recipe == "ordertrace" })
        // Then it failed for good after three crashes, not more
        #expect(trace.attempts == 3)
        #expect(trace.reason == "crashed 3 times: recipe process crashed: signal 4 (SIGILL, a Swift runtime trap)", "\(trace.reason ?? "")")
        // And the rest of the night (everything not needing the order trace) ran to its end in the same daemon
        // (at 256 px the dispersion solution's QC fails, as it does without any crash)
        let done = try eventually(within: 120) {
            let jobs = try database.jobs()
            return ["mbias", "mdark"].allSatisfy { name in jobs.contains { $0.recipe == name && $0.state == .succeeded } }
                && jobs.contains { $0.recipe == "disp_solution" && ($0.state == .succeeded || $0.state == .qcFailed) }
                && jobs.allSatisfy { $0.state.isTerminal } && jobs.filter { $0.state == .failed }.count == 1
        }
        #expect(done, "\(jobSummary(database))")
        #expect(daemon.isRunning)
        // And calibctl shows the reason
        let jobs = try #require(try ws.json(["jobs", "--state", "failed"]) as? [[String: Any]])
        #expect(jobs.contains { ($0["reason"] as? String)?.hasPrefix("crashed 3 times") == true })
        let show = try ws.calibctl(["job", "show", "\(trace.id!)"])
        #expect(show.stdout.contains("crashed 3 times: recipe process crashed: signal 4"), "\(show.stdout)")
        #expect(show.stdout.contains("attempt 1 crashed") && show.stdout.contains("attempt 2 crashed"))
        #expect(daemon.stop())
        // And the master flat, which needs the order trace, says which job failed and why
        let again = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(again.batchRanToEnd, "\(again.stderr)")
        let waiting = again.stdout.split(separator: "\n").first { $0.contains("mflat") } ?? ""
        #expect(waiting.contains("job \(trace.id!) (ordertrace)") && waiting.contains("crashed 3 times"), "\(again.stdout)")
        #expect(try database.job(id: trace.id!)?.attempts == 3)
    }

    @Test("A recipe that hangs is stopped at its time limit, failed after 3 attempts with the reason, and the rest of the night completes")
    func hangingRecipe() throws {
        // Given a night whose order trace hangs, with a time limit of 2 s for it in the profile
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        let profile = ws.root + "/config/instruments/simech.yaml"
        let text = try String(contentsOfFile: profile, encoding: .utf8)
        try text.replacingOccurrences(of: "  - name: ordertrace\n", with: "  - name: ordertrace\n    timeLimitSeconds: 2\n")
            .write(toFile: profile, atomically: true, encoding: .utf8)

        // When the night is run in batch
        let started = Date()
        let result = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"],
                                    addingEnvironment: ["CALIBD_TEST_HANG_ON": "recipe:ordertrace"])
        let seconds = Date().timeIntervalSince(started)

        // Then it ends (three 2 s attempts and two back-offs, not a night-long wait), naming the job that failed and why
        #expect(result.batchRanToEnd, "\(result.stderr)")
        #expect(seconds < 120, "took \(seconds) s")
        let database = try CalibrationDatabase(path: ws.database)
        let trace = try #require(try database.jobs().first { $0.recipe == "ordertrace" })
        #expect(trace.state == .failed && trace.attempts == 3, "\(jobSummary(database))")
        #expect(trace.reason == "crashed 3 times: recipe exceeded its time limit of 2 s and was stopped (timeLimitSeconds in the profile)",
                "\(trace.reason ?? "")")
        #expect(result.stdout.contains("time limit of 2 s"), "\(result.stdout)")
        // And everything not needing the order trace ran to its end
        let jobs = try database.jobs()
        #expect(["mbias", "mdark"].allSatisfy { name in jobs.contains { $0.recipe == name && $0.state == .succeeded } }, "\(jobSummary(database))")
        #expect(jobs.filter { $0.state == .failed }.count == 1, "\(jobSummary(database))")
        // And no recipe process is left behind
        let leftovers = try runCommand("/usr/bin/pgrep", ["-f", "run-job.*\(ws.root)"])
        #expect(leftovers.stdout.isEmpty, "\(leftovers.stdout)")
    }

    @Test("A time limit outside 1 s to a day is refused with the key that holds it")
    func timeLimitValidated() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let profile = ws.root + "/config/instruments/simech.yaml"
        let text = try String(contentsOfFile: profile, encoding: .utf8)
        try text.replacingOccurrences(of: "  - name: ordertrace\n", with: "  - name: ordertrace\n    timeLimitSeconds: 0\n")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let check = try runCommand(Binaries.calibd, ["--config", ws.config, "--check-config"])
        #expect(check.status == 78, "\(check.stdout)\(check.stderr)")
        #expect((check.stdout + check.stderr).contains("timeLimitSeconds: must be between 1 and 86400 seconds"), "\(check.stdout)\(check.stderr)")
    }

    @Test("A disk-full episode of 2 minutes (past every retry window): jobs wait without spending attempts and the night completes with nothing failed",
          .enabled(if: canMountTmpfs, "needs root to mount a small tmpfs"))
    func diskFullEpisode() throws {
        // Given a products directory on a nearly full file system
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let products = ws.workspace + "/products"
        try FileManager.default.createDirectory(atPath: products, withIntermediateDirectories: true)
        #expect(try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", products]).status == 0)
        defer { _ = try? runCommand("/bin/umount", ["-l", products]) }
        let filler = products + "/filler"
        try Data(count: 8 * 1024 * 1024 - 64 * 1024).write(to: URL(fileURLWithPath: filler))
        try ws.simulate(size: 256)
        let log = ws.root + "/daemon.log"
        let daemon = try DaemonProcess(config: ws.config, environment: [:], log: log)
        let database = try CalibrationDatabase(path: ws.database)
        // When the disk stays full for 2 minutes (the back-off reaches its 60 s ceiling within it)
        let waited = try eventually(within: 60) {
            try database.jobs().contains { $0.recipe == "mbias" && ($0.reason ?? "").contains("no space left") }
        }
        #expect(waited)
        sleep(120)
        let during = try database.jobs()
        #expect(during.allSatisfy { $0.state != .failed }, "\(during.map { "\($0.recipe) \($0.state) \($0.reason ?? "")" })")
        let bias = try #require(during.first { $0.recipe == "mbias" })
        #expect(bias.attempts == 0, "an attempt was counted for a full disk")
        #expect(bias.reason?.contains(products) == true && bias.reason?.contains("free space") == true, "\(bias.reason ?? "")")
        try FileManager.default.removeItem(atPath: filler)
        // Then the night completes on its own, with nothing failed (at 256 px the order trace and
        // the dispersion solution fail their QC, as they do without a full disk; nothing runs after them)
        let complete = try eventually(within: 180) {
            let jobs = try database.jobs()
            return jobs.count >= 4 && jobs.allSatisfy { $0.state.isTerminal && $0.state != .failed }
                && ["mbias", "mdark", "ordertrace", "disp_solution"].allSatisfy { name in jobs.contains { $0.recipe == name } }
        }
        #expect(complete, "\(jobSummary(database))")
        #expect(daemon.isRunning)
        #expect(daemon.stop())
        // And the fault was logged once, with its path and remedy, not once per retry
        let lines = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").filter { $0.contains("wait for the environment") }
        #expect(lines.count == 1, "\(lines)")
        #expect(lines.first?.contains("free space") == true)
    }

    @Test("verify --repair run over and over during a night changes nothing the daemon made")
    func verifyDuringNight() throws {
        // Given a daemon reducing a two-arm night
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let daemon = try DaemonProcess(config: ws.config)
        let database = try CalibrationDatabase(path: ws.database)
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: ws.database) })
        try ws.simulate(size: 512, arms: "RED")
        // When verify --repair runs in a loop until the night is done
        var runs = 0
        var findings: [String] = []
        var quietRounds = 0
        var lastCount = -1
        let deadline = Date().addingTimeInterval(240)
        while Date() < deadline {
            let result = try ws.calibctl(["verify", "--repair", "--json"])
            runs += 1
            if let report = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] {
                for key in ["missing", "modified", "unrecorded"] where !((report[key] as? [Any]) ?? []).isEmpty {
                    findings.append("\(key): \(report[key]!)")
                }
            } else {
                findings.append("unreadable report: \(result.stdout) \(result.stderr)")
            }
            let jobs = try database.jobs()
            // Done when every job has ended and no new one appeared for three rounds.
            quietRounds = jobs.count >= 4 && jobs.count == lastCount && jobs.allSatisfy({ $0.state.isTerminal }) ? quietRounds + 1 : 0
            lastCount = jobs.count
            if quietRounds >= 3 { break }
        }
        // Then it never found anything, and the night ended as without it
        #expect(findings.isEmpty, "\(findings)")
        #expect(runs >= 5)
        let jobs = try database.jobs()
        #expect(jobs.allSatisfy { $0.state != .failed } && jobs.contains { $0.recipe == "mflat" && $0.state == .succeeded },
                "\(jobSummary(database))")
        #expect(!FileManager.default.fileExists(atPath: ws.workspace + "/products/quarantine"))
        #expect(try database.products().allSatisfy { $0.availability == .available })
        #expect(daemon.stop())
    }
}
