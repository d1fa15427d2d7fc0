import CalibDB
import FITS
import Foundation
import Glibc
import Testing

@Suite("Security", .serialized)
struct SecurityTests {
    @Test("The workspace (the control path) is closed to other users")
    func workspacePermissions() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        func mode(_ path: String) -> mode_t {
            var st = stat()
            return stat(path, &st) == 0 ? st.st_mode & 0o777 : 0o7777
        }
        #expect(mode(ws.workspace) == 0o750)
        #expect(mode(ws.database) == 0o640)
        #expect(mode(ws.workspace + "/products") == 0o750)
    }

    @Test("A header cannot steer where a product is written")
    func headerPathTraversal() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        let night = ws.raw + "/2026-11-21"
        // Three biases whose arm is a path that climbs out of the workspace.
        let evil = ws.raw + "/evil"
        try FileManager.default.createDirectory(atPath: evil, withIntermediateDirectories: true)
        let biases = try FileManager.default.contentsOfDirectory(atPath: night).sorted().prefix(3)
        for (i, name) in biases.enumerated() {
            let file = try FITSFile.open(night + "/" + name)
            var header = try file.readHeader()
            let pixels = try file.readImage(as: UInt16.self)
            let shape = try file.imageShape()
            try file.close()
            header.set("ESO SEQ ARM", .string("../../../../../tmp/calibd-escape"))
            header.set("ESO TPL START", .string("evil"))
            header.set("ESO TPL NEXP", .integer(3))
            header.set("MJD-OBS", .real((header.double("MJD-OBS") ?? 0) + 0.2 + Double(i) * 0.001))
            let out = try FITSFile.create(evil + "/E\(i).fits")
            try out.writeImage(pixels, width: shape[0], height: shape[1], header: header)
            try out.close()
        }
        try? FileManager.default.removeItem(atPath: "/tmp/calibd-escape")
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let products = try CalibrationDatabase(path: ws.database).products(type: .masterBias)
        let escaped = try #require(products.first { $0.setup.contains("calibd-escape") })
        #expect(escaped.path.hasPrefix(ws.workspace + "/products/"))
        #expect(!escaped.path.contains("/../"))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/calibd-escape"))
    }

    @Test("calibctl ingest refuses files outside the configured roots")
    func ingestConfinement() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let outside = ws.root + "/elsewhere.fits"
        try writeSmallFrame(outside, sequence: 1)
        let result = try ws.calibctl(["ingest", outside, "--json"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("refused"))
        let inside = ws.raw + "/inside.fits"
        try writeSmallFrame(inside, sequence: 2)
        #expect(try ws.calibctl(["ingest", inside]).stdout.contains("recorded"))
    }

    /// The sources, for static checks.
    static let sources: [(path: String, text: String)] = {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources").path
        let walker = FileManager.default.enumerator(atPath: root)
        var files: [(String, String)] = []
        while let relative = walker?.nextObject() as? String {
            guard relative.hasSuffix(".swift"), let text = try? String(contentsOfFile: root + "/" + relative, encoding: .utf8) else { continue }
            files.append((relative, text))
        }
        return files
    }()

    @Test("Nothing is run through a shell; only the benchmark harness (itself, calibd) and the daemon's worker launcher (calibd worker) start processes")
    func noShell() {
        #expect(Self.sources.count > 50)
        for (path, text) in Self.sources {
            for forbidden in ["system(", "popen(", "/bin/sh", "/bin/bash", "execv"] {
                #expect(!text.contains(forbidden), "\(path) contains \(forbidden)")
            }
            // One audited spawner (argv, no shell), used only by the launcher of calibd's own worker subcommand.
            if text.contains("posix_spawn") { #expect(path == "Pipeline/Workers/ChildProcess.swift", "\(path) spawns a process") }
            if text.contains("ChildProcess(") {
                #expect(["Pipeline/Workers/ChildProcess.swift", "Pipeline/Workers/WorkerLauncher.swift"].contains(path), "\(path) starts a child process")
            }
            if text.contains("Process()") { #expect(path.hasPrefix("Bench/"), "\(path) starts a process") }
        }
        let launcher = Self.sources.first { $0.path == "Pipeline/Workers/WorkerLauncher.swift" }?.text ?? ""
        #expect(launcher.contains("arguments: [\"worker\"] + subcommand"), "worker processes are calibd's own `worker` subcommand")
    }

    @Test("SQL takes values only as bound parameters")
    func boundParameters() {
        // An interpolation inside an SQL string may only insert constant SQL
        // (schema enumerations, column lists, placeholders, a migration's quoted table names), never a value.
        let allowed = ["\\(frameTypes)", "\\(productTypes)", "\\(jobStates)", "\\(columns)", "\\(placeholders)",
                       "\\(tableName)", "\\(rebuiltName)"]
        for (path, text) in Self.sources where path.hasPrefix("CalibDB/") {
            for line in text.split(separator: "\n") where line.contains("sql:") || line.contains("SELECT") || line.contains("INSERT")
                || line.contains("UPDATE") || line.contains("DELETE") || line.contains("WHERE") {
                var rest = Substring(line)
                while let range = rest.range(of: "\\(") {
                    let tail = rest[range.lowerBound...]
                    let token = String(tail.prefix { $0 != ")" }) + ")"
                    #expect(allowed.contains(token), "\(path): \(line.trimmingCharacters(in: .whitespaces))")
                    rest = rest[range.upperBound...]
                }
            }
        }
    }
}
