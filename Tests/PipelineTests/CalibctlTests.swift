import CalibDB
import Foundation
import FoundationXML
import Testing

/// calibctl against a real database made by a real batch run.
@Suite("calibctl", .serialized)
struct CalibctlTests {
    /// A two-arm night processed by `calibd --once`.
    func processedNight() throws -> TestWorkspace {
        let ws = try TestWorkspace()
        try ws.simulate(size: 256, arms: "BLUE,RED")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        return ws
    }

    @Test("verify detects a deleted, a modified and an unrecorded product file, and --repair recovers")
    func verify() throws {
        let ws = try processedNight()
        defer { ws.remove() }
        let database = try CalibrationDatabase(path: ws.database)
        let biases = try database.products(type: .masterBias).sorted { $0.id! < $1.id! }
        #expect(biases.count == 2)
        #expect(try ws.calibctl(["verify"]).status == 0)

        try FileManager.default.removeItem(atPath: biases[0].path)
        let handle = try #require(FileHandle(forUpdatingAtPath: biases[1].path))
        try handle.seek(toOffset: 5760 + 100)
        handle.write(Data([0x42, 0x42, 0x42]))
        try handle.close()
        let stray = (biases[0].path as NSString).deletingLastPathComponent + "/stray.fits"
        try Data(count: 2880).write(to: URL(fileURLWithPath: stray))

        let check = try ws.calibctl(["verify", "--json"])
        #expect(check.status == 1)
        let report = try #require(try JSONSerialization.jsonObject(with: Data(check.stdout.utf8)) as? [String: Any])
        #expect((report["missing"] as? [[String: Any]])?.first?["id"] as? Int == Int(biases[0].id!))
        #expect((report["modified"] as? [[String: Any]])?.first?["id"] as? Int == Int(biases[1].id!))
        #expect(report["unrecorded"] as? [String] == [stray])

        #expect(try ws.calibctl(["verify", "--repair"]).status == 0)
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let after = try ws.calibctl(["verify"])
        #expect(after.status == 0, "\(after.stdout)")
        let usable = try database.products(type: .masterBias).filter { $0.availability == .available && $0.supersededBy == nil }
        #expect(usable.count == 2)
        #expect(FileManager.default.fileExists(atPath: ws.workspace + "/products/quarantine"))
    }

    @Test("qc reevaluate applies changed ranges without re-running; best follows")
    func reevaluate() throws {
        let ws = try processedNight()
        defer { ws.remove() }
        #expect(try ws.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "arm=RED"]).status == 0)
        let profile = ws.root + "/config/instruments/simech.yaml"
        let original = try String(contentsOfFile: profile, encoding: .utf8)
        try original.replacingOccurrences(of: "readNoiseADU: {min: 0.5, max: 8.0}", with: "readNoiseADU: {min: 0.5, max: 1.0}")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let tightened = try #require(try ws.json(["qc", "reevaluate", "--type", "MBIAS"]) as? [[String: Any]])
        #expect(tightened.count == 2)
        #expect(tightened.allSatisfy { $0["isPassed"] as? Bool == false })
        let none = try ws.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "arm=RED", "--explain"])
        #expect(none.status == 2)
        #expect(none.stdout.contains("failed QC"))
        let jobs = try #require(try ws.json(["jobs"]) as? [[String: Any]])
        // The two master-bias jobs; the arc recipes' own QC verdicts on this 256² night are not at issue here.
        #expect(jobs.filter { $0["recipe"] as? String == "mbias" && $0["state"] as? String == "qc_failed" }.count == 2)

        try original.write(toFile: profile, atomically: true, encoding: .utf8)
        let relaxed = try #require(try ws.json(["qc", "reevaluate", "--type", "MBIAS"]) as? [[String: Any]])
        #expect(relaxed.count == 2 && relaxed.allSatisfy { $0["isPassed"] as? Bool == true })
        #expect(try ws.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "arm=RED"]).status == 0)
    }

    @Test("export, pin, reference, rerun, job show and qc trend work from the command line")
    func commandLine() throws {
        let ws = try processedNight()
        defer { ws.remove() }
        let csv = try ws.calibctl(["export", "products", "--format", "csv"])
        #expect(csv.status == 0)
        let biasLines = csv.stdout.split(separator: "\n").filter { $0.hasSuffix(",MBIAS") }
        #expect(biasLines.count == 2)  // one master bias per arm
        let products = try #require(try ws.json(["calibs", "--type", "MBIAS"]) as? [[String: Any]])
        let red = try #require(products.first { ($0["setup"] as? [String: Any])?["arm"] as? String == "RED" })
        let redId = try #require(red["id"] as? Int)
        let redJob = try #require(red["jobId"] as? Int)

        #expect(try ws.calibctl(["pin", "add", "\(redId)", "--from", "2026-11-25", "--note", "test pin"]).status == 0)
        let pinned = try ws.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-25", "--setup", "arm=RED"])
        #expect(pinned.status == 0)
        #expect(pinned.stdout.contains("pinned by") && pinned.stdout.contains("test pin"), "\(pinned.stdout)")

        let rerun = try ws.calibctl(["rerun", "\(redJob)"])
        #expect(rerun.status == 0)
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let show = try ws.calibctl(["job", "show", "\(redJob)"])
        #expect(show.stdout.contains("re-run requested by"))
        #expect(show.stdout.contains("superseded by"))
        let trend = try #require(try ws.json(["qc", "trend", "readNoiseADU", "--type", "MBIAS"]) as? [[String: Any]])
        #expect(trend.count == 2)
        #expect(try ws.calibctl(["reference", "add", "\(redId)"]).status == 0)
        #expect(try ws.calibctl(["rerun", "999999"]).status != 0)
    }

    @Test("The night report is a page whose plots exist and are well-formed SVG")
    func report() throws {
        let ws = try processedNight()
        defer { ws.remove() }
        let out = ws.root + "/report"
        let result = try ws.calibctl(["report", "--night", "2026-11-21", "--out", out])
        #expect(result.status == 0, "\(result.stderr)")
        let pagePath = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(pagePath == out + "/2026-11-21/index.html")
        let page = try String(contentsOfFile: pagePath, encoding: .utf8)
        #expect(try String(contentsOfFile: out + "/index.html", encoding: .utf8).contains("href=\"2026-11-21/index.html\""))
        #expect(page.contains("MBIAS"))
        #expect(page.contains("readNoiseADU"))
        let sources = page.components(separatedBy: "<img").dropFirst().compactMap { tag -> String? in
            guard let src = tag.range(of: " src=\"") else { return nil }
            return String(tag[src.upperBound...].prefix { $0 != "\"" })
        }
        #expect(!sources.isEmpty)
        for source in sources {
            let data = try Data(contentsOf: URL(fileURLWithPath: out + "/2026-11-21/" + source))
            if source.hasSuffix(".svg") {
                let parser = XMLParser(data: data)
                #expect(parser.parse(), "\(source) is not well-formed")
            }
        }
    }
}
