import CalibDB
import FITS
import Foundation
import Testing

/// Issue #14, part 2, through the real binaries: malformed input and
/// configuration mistakes are refused with the reason and a non-zero exit,
/// never answered with an empty table and status 0.
@Suite("Input and configuration validation", .serialized)
struct InputValidationTests {
    @Test("Malformed nights, types, states, recipes, metrics and ids are refused with the reason")
    func malformedInput() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256, arms: "BLUE,RED")
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)

        let refused: [([String], String)] = [
            (["frames", "--night", "21-11-2026"], "'21-11-2026' is not a night: nights are written YYYY-MM-DD"),
            (["frames", "--night", "2026/11/21"], "'2026/11/21' is not a night"),
            (["jobs", "--night", "21-11-2026"], "is not a night"),
            (["calibs", "--night", "2026/11/21"], "is not a night"),
            (["export", "products", "--night", "21-11-2026"], "is not a night"),
            (["qc", "reevaluate", "--night", "2026/11/21"], "is not a night"),
            (["calibs", "--night", "2026-11-31"], "'2026-11-31' is not a calendar date (no day 31 in November 2026)"),
            (["best", "--type", "MBIAS", "--night", "2026-11-31", "--setup", "arm=RED"], "is not a calendar date"),
            (["report", "--night", "2026-02-29", "--out", ws.root + "/r"], "no day 29 in February 2026"),
            (["qc", "trend", "readNoiseADU", "--since", "01/11/2026"], "--since '01/11/2026' is not a night"),
            (["reprocess", "--night", "2026-11-21", "--recipe", "nope"], "unknown recipe 'nope'"),
            (["reprocess", "--night", "2026-11-21", "--setup", "armm=RED"], "did you mean arm?"),
            (["qc", "trend", "readnoise"], "unknown QC metric 'readnoise'"),
            (["calibs", "--type", "MBIASS"], "did you mean MBIAS?"),
            (["jobs", "--state", "broken"], "unknown job state 'broken'"),
            (["rerun", "999999"], "no job 999999"),
            (["cancel", "999999"], "no job 999999"),
            (["job", "show", "999999"], "no job 999999"),
            (["qc", "show", "999999"], "no product 999999"),
            (["reference", "add", "999999"], "no product 999999"),
            (["pin", "remove", "999999"], "no pin 999999"),
            (["lamp-flux", "--lamp", "Neon"], "unknown lamp 'Neon'"),
            (["lamp-flux", "--setup", "arm"], "'arm' is not of the form key=value"),
            (["lamp-flux", "--from", "2026-13-01"], "--from '2026-13-01' is not a night"),
        ]
        for (arguments, message) in refused {
            let result = try ws.calibctl(arguments)
            // A missing job, product or pin is missing input (66); everything else is a malformed argument (64).
            let expected: Int32 = message.hasPrefix("no job") || message.hasPrefix("no product") || message.hasPrefix("no pin") ? 66 : 64
            #expect(result.status == expected, "calibctl \(arguments.joined(separator: " ")) exited \(result.status): \(result.stderr)")
            #expect(result.stderr.contains(message), "calibctl \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        // The valid values are listed with the refusal
        #expect(try ws.calibctl(["reprocess", "--night", "2026-11-21", "--recipe", "nope"]).stderr.contains("mbias"))
        #expect(try ws.calibctl(["qc", "trend", "readnoise"]).stderr.contains("did you mean readNoiseADU?"))

        // Case-insensitive where the field is: --type mbias is MBIAS, --state FAILED is failed
        let lower = try #require(try ws.json(["qc", "reevaluate", "--type", "mbias"]) as? [Any])
        let upper = try #require(try ws.json(["qc", "reevaluate", "--type", "MBIAS"]) as? [Any])
        #expect(lower.count == upper.count)
        #expect(try ws.calibctl(["qc", "reevaluate", "--type", "mbias"]).stdout.hasPrefix("2 products re-judged"))
        #expect(try ws.calibctl(["jobs", "--state", "SUCCEEDED"]).status == 0)
        #expect(try ws.calibctl(["calibs", "--type", "mbias"]).stdout.contains("MBIAS"))
        let trend = try #require(try ws.json(["qc", "trend", "readnoiseadu"]) as? [Any])
        #expect(trend.count == 2)
    }

    @Test("The shipped configuration and every shipped profile pass --check-config with no finding")
    func shippedConfiguration() throws {
        let config = TestWorkspace.repositoryConfig + "/calibd.yaml"
        let daemon = try runCommand(Binaries.calibd, ["--config", config, "--check-config"])
        #expect(daemon.status == 0, "\(daemon.stdout)\(daemon.stderr)")
        #expect(daemon.stdout.contains("no findings"))
        let control = try runCommand(Binaries.calibctl, ["check-config", "--config", config])
        #expect(control.status == 0, "\(control.stdout)\(control.stderr)")
        let profiles = try FileManager.default.contentsOfDirectory(atPath: TestWorkspace.repositoryConfig + "/instruments")
        #expect(profiles.filter { $0.hasSuffix(".yaml") }.count == 8)  // simech, spirou, xshooter, soxs, kast, isis, simmos, simls
    }

    @Test("--check-config reports a misspelt nested key, a misspelt QC metric, an unknown parameter and a missing static file, all of them")
    func configurationMistakes() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        // Given four mistakes at once
        let daemonFile = try String(contentsOfFile: ws.config, encoding: .utf8)
        try daemonFile.replacingOccurrences(of: "stableSeconds:", with: "stableSecs:").write(toFile: ws.config, atomically: true, encoding: .utf8)
        let profile = ws.root + "/config/instruments/simech.yaml"
        try String(contentsOfFile: profile, encoding: .utf8)
            .replacingOccurrences(of: "readNoiseADU: {min: 0.5, max: 8.0}", with: "readNoiseADUU: {min: 0.5, max: 8.0}")
            .replacingOccurrences(of: "hotSigma: 8,", with: "hotSigmaa: 8,")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: ws.root + "/config/static/SIMECH_RED_pinhole_map.csv")

        // Then both checkers report each, exit 78, and the daemon refuses to start on them
        for (binary, arguments) in [(Binaries.calibd, ["--config", ws.config, "--check-config"]),
                                    (Binaries.calibctl, ["check-config", "--config", ws.config])] {
            let result = try runCommand(binary, arguments)
            #expect(result.status == 78, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("ingest.stableSecs: unknown key; did you mean stableSeconds?"), "\(result.stdout)")
            #expect(result.stdout.contains("recipes[0].qc.readNoiseADUU: recipe mbias emits no QC metric 'readNoiseADUU'"))
            #expect(result.stdout.contains("did you mean readNoiseADU?"))
            #expect(result.stdout.contains("recipes[1].parameters.hotSigmaa: recipe mdark has no parameter 'hotSigmaa'; did you mean hotSigma?"))
            #expect(result.stdout.contains("static/SIMECH_RED_pinhole_map.csv, which is missing"))
            #expect(result.stdout.contains("findings in"))
        }
        let start = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(start.status == 78)
        #expect(start.stderr.contains("stableSecs"))
        #expect(!FileManager.default.fileExists(atPath: ws.database), "calibd started on a configuration with findings")

        // With the daemon file fixed, a run still refuses the profile's mistakes (the first, and how many more)
        try daemonFile.write(toFile: ws.config, atomically: true, encoding: .utf8)
        let again = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(again.status == 78)
        #expect(again.stderr.contains("more: run calibd --check-config"), "\(again.stderr)")
    }

    @Test("CALIBD_CONFIG naming a missing file is refused, not replaced by ./config/calibd.yaml")
    func missingConfigFromEnvironment() throws {
        let result = try runCommand("/usr/bin/env", ["CALIBD_CONFIG=/nonexistent/calibd.yaml", Binaries.calibctl, "frames"])
        #expect(result.status == 66)
        #expect(result.stderr.contains("/nonexistent/calibd.yaml: no such configuration file (named by CALIBD_CONFIG)"), "\(result.stderr)")
        let daemon = try runCommand("/usr/bin/env", ["CALIBD_CONFIG=/nonexistent/calibd.yaml", Binaries.calibd, "--check-config"])
        #expect(daemon.status == 78)
    }

    @Test("A frame without ESO SEQ ARM is recorded as a problem naming the keyword, not as a BIAS of arm=UNDEFINED")
    func frameWithoutSetupKeyword() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        var header = FITSHeader()
        header.set("INSTRUME", .string("SIMECH"))
        header.set("ESO DPR CATG", .string("CALIB"))
        header.set("ESO DPR TYPE", .string("BIAS"))
        header.set("ESO DPR TECH", .string("IMAGE"))
        header.set("ESO DET BINX", .integer(1))
        header.set("ESO DET BINY", .integer(1))
        header.set("ESO DET READ SPEED", .string("100k"))
        header.set("MJD-OBS", .real(61365.9))
        header.set("EXPTIME", .real(0))
        let file = try FITSFile.create(ws.raw + "/no-arm.fits")
        try file.writeImage([Float](repeating: 1000, count: 32 * 32), width: 32, height: 32, header: header)
        try file.close()
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let frames = try CalibrationDatabase(path: ws.database).frames()
        let frame = try #require(frames.first)
        #expect(frame.frame.status == .problem)
        #expect(frame.frame.problem?.contains("missing keyword ESO SEQ ARM (setup key arm)") == true, "\(frame.frame.problem ?? "")")
        #expect(frame.frame.setup?.contains("UNDEFINED") != true)
        #expect(try ws.calibctl(["frames", "--problems"]).stdout.contains("ESO SEQ ARM"))
    }
}
