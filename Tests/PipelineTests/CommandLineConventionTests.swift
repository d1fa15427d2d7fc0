import CalibCore
import Foundation
import Testing

/// The command-line conventions every binary keeps: global options on either
/// side of the verb, exit statuses from `ExitStatus`, errors in plain words
/// with a remedy, `--version`, help that works anywhere.
@Suite("Command-line conventions", .serialized)
struct CommandLineConventionTests {
    /// Text no person should see: Foundation's NSError dump, decoder debug text, the parser's usage after a lookup failure.
    static let leaks = ["Error Domain=", "NSCocoaErrorDomain", "Expected to decode", "Cannot initialize", "Usage:", "USAGE:"]

    /// A workspace whose database exists (calibd --once over an empty raw root).
    func emptyDatabase() throws -> TestWorkspace {
        let ws = try TestWorkspace()
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.status == 0, "\(run.stderr)")
        return ws
    }

    @Test("--config and --workspace work before and after the verb, and name the same database")
    func globalOptionsEitherSide() throws {
        let ws = try emptyDatabase()
        defer { ws.remove() }
        // Given the same request in both orders
        let before = try runCommand(Binaries.calibctl, ["--config", ws.config, "status", "--json"])
        let after = try runCommand(Binaries.calibctl, ["status", "--json", "--config", ws.config])
        let equalsForm = try runCommand(Binaries.calibctl, ["--config=\(ws.config)", "--workspace=\(ws.workspace)", "jobs", "--json"])
        // Then both are accepted and answer from the same database
        #expect(before.status == 0, "\(before.stderr)")
        #expect(after.status == 0, "\(after.stderr)")
        #expect(equalsForm.status == 0, "\(equalsForm.stderr)")
        #expect(try JSONNode.parse(before.stdout)["database"] == JSONNode.parse(after.stdout)["database"])
        #expect(try JSONNode.parse(before.stdout)["database"]?.string == ws.database)

        // And --workspace before a nested verb overrides the configuration's workspace
        let elsewhere = ws.root + "/other-ws"
        let moved = try runCommand(Binaries.calibctl, ["--workspace", elsewhere, "--config", ws.config, "job", "show", "1"])
        #expect(moved.status == ExitStatus.noInput.rawValue)
        #expect(moved.stderr.contains("no calibration database at \(elsewhere)/calibd.sqlite"), "\(moved.stderr)")
        #expect(!moved.stderr.contains("Unknown option"))
    }

    @Test("A lookup failure exits 66 with a plain message and a remedy, not the usage")
    func lookupFailure() throws {
        let ws = try emptyDatabase()
        defer { ws.remove() }
        let show = try ws.calibctl(["job", "show", "999"])
        #expect(show.status == 66)
        #expect(show.stderr.hasPrefix("calibctl: no job 999\n"), "\(show.stderr)")
        #expect(show.stderr.contains("calibctl jobs lists the jobs"))
        for leak in Self.leaks { #expect(!show.stderr.contains(leak), "\(leak) in \(show.stderr)") }
        let rerun = try ws.calibctl(["rerun", "999"])
        #expect(rerun.status == 66 && rerun.stderr.hasPrefix("calibctl: no job 999"), "\(rerun.stderr)")
        // A mistake on the command line is still a usage error, with the usage.
        let usage = try ws.calibctl(["job", "show", "not-a-number"])
        #expect(usage.status == 64)
    }

    @Test("A missing database or configuration exits 66; a wrong configuration exits 78, in plain words")
    func configurationErrors() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        // No database yet
        let noDatabase = try ws.calibctl(["frames"])
        #expect(noDatabase.status == 66)
        #expect(noDatabase.stderr.contains("no calibration database at \(ws.database)"))

        // No configuration file at the path given
        let missing = try runCommand(Binaries.calibctl, ["frames", "--config", ws.root + "/nowhere.yaml"])
        #expect(missing.status == 66, "\(missing.stderr)")
        #expect(missing.stderr.contains("nowhere.yaml: no such configuration file"), "\(missing.stderr)")

        // A list where a number belongs, in calibd.yaml
        try "workers: [1, 2]\n".write(toFile: ws.root + "/config/bad.yaml", atomically: true, encoding: .utf8)
        let badType = try runCommand(Binaries.calibctl, ["frames", "--config", ws.root + "/config/bad.yaml"])
        #expect(badType.status == 78, "\(badType.stderr)")
        #expect(badType.stderr.contains("bad.yaml: workers: expected a single value, found a list"), "\(badType.stderr)")

        // A misspelt frame type in an instrument profile, for calibd too
        let profile = ws.root + "/config/instruments/simech.yaml"
        let text = try String(contentsOfFile: profile, encoding: .utf8)
        let broken = try #require(text.range(of: "type: BIAS")).lowerBound
        try text.replacingCharacters(in: broken..<text.index(broken, offsetBy: 10), with: "type: BAIS")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let badValue = try runCommand(Binaries.calibd, ["--config", ws.config, "--once"])
        #expect(badValue.status == 78, "\(badValue.stderr)")
        #expect(badValue.stderr.hasPrefix("calibd: "), "\(badValue.stderr)")
        #expect(badValue.stderr.contains("'BAIS' is not a known FrameType (known: "), "\(badValue.stderr)")
        for result in [missing, badType, badValue] {
            for leak in Self.leaks { #expect(!result.stderr.contains(leak), "\(leak) in \(result.stderr)") }
        }
    }

    @Test("calibd --once exits 1 and says so when a job failed QC")
    func onceExitsOneOnFailure() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256, arms: "RED")
        // Given a read-noise range no real bias meets
        let profile = ws.root + "/config/instruments/simech.yaml"
        let text = try String(contentsOfFile: profile, encoding: .utf8)
        #expect(text.contains("readNoiseADU: {min: 0.5, max: 8.0}"))
        try text.replacingOccurrences(of: "readNoiseADU: {min: 0.5, max: 8.0}", with: "readNoiseADU: {min: 0.5, max: 1.0}")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        // When the night is run once
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        // Then it exits 1, the summary line counts the QC failure and stderr names the job
        #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
        let summary = try #require(run.stdout.split(separator: "\n").first)
        #expect(summary.contains("failed QC"), "\(summary)")
        #expect(run.stderr.contains("mbias"), "\(run.stderr)")
        #expect(run.stderr.contains("qc_failed"), "\(run.stderr)")
    }

    @Test("Every binary answers --version with the one version constant")
    func versions() throws {
        for binary in [Binaries.calibd, Binaries.calibctl, Binaries.calibBench, Binaries.calibdFuzz] {
            let result = try runCommand(binary, ["--version"])
            #expect(result.status == 0, "\(binary): \(result.stderr)")
            #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == CalibdVersion.current, "\(binary)")
        }
    }

    @Test("calib-bench --help works outside the checkout, and a run there says where its inputs must be")
    func benchHelpAnywhere() throws {
        let elsewhere = FileManager.default.temporaryDirectory.appendingPathComponent("bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        // A copy of the binary away from the checkout, so that it cannot find config/ beside itself.
        try FileManager.default.copyItem(atPath: Binaries.calibBench, toPath: elsewhere + "/calib-bench")
        var environment = ProcessInfo.processInfo.environment
        environment["CALIBD_CONFIG_DIR"] = nil
        let help = try runCommand(elsewhere + "/calib-bench", ["--help"], in: elsewhere, environment: environment)
        #expect(help.status == 0, "\(help.stderr)")
        #expect(help.stdout.contains("USAGE: calib-bench"))
        #expect(help.stdout.contains("master bias"))
        #expect(!help.stderr.contains("Fatal error") && !help.stderr.contains("Backtrace"))
        let run = try runCommand(elsewhere + "/calib-bench", ["--size", "256"], in: elsewhere, environment: environment)
        #expect(run.status == 66, "\(run.stderr)")
        #expect(run.stderr.contains("CALIBD_CONFIG_DIR"))
        #expect(!run.stderr.contains("Fatal error"))
    }

    @Test("--help lists the exit statuses and the global options")
    func helpDocumentsExitStatus() throws {
        let help = try runCommand(Binaries.calibctl, ["--help"])
        #expect(help.status == 0)
        for status in ExitStatus.allCases { #expect(help.stdout.contains(status.meaning.prefix(30)), "\(status)") }
        #expect(help.stdout.contains("before or after the verb"))
        let daemon = try runCommand(Binaries.calibd, ["--help"])
        #expect(daemon.status == 0, "\(daemon.stderr)")
        #expect(daemon.stdout.contains(ExitStatus.finding.meaning.prefix(30)))
    }
}
