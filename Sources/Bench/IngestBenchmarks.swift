import CalibCore
import CalibDB
import FITS
import Foundation
import Glibc
import Logging
import Pipeline

/// A configuration for benchmark runs: the repository's profiles, a raw root and a workspace.
func benchmarkConfiguration(raw: String, workspace: String) throws -> CalibdConfiguration {
    var configuration = try ConfigurationLoader.load(path: BenchmarkFrames.configDirectory + "/calibd.yaml")
    configuration.watch = [raw]
    configuration.workspace = workspace
    configuration.databaseOverride = nil
    configuration.ingest.stableSeconds = 0.05
    return configuration
}

/// A header-only SIMECH file (as many instruments write for acquisition or test frames).
func writeHeaderOnlyFrame(_ path: String, sequence: Int) throws {
    var header = FITSHeader()
    header.set("INSTRUME", .string("SIMECH"))
    header.set("ESO DPR CATG", .string("CALIB"))
    header.set("ESO DPR TYPE", .string("BIAS"))
    header.set("ESO DPR TECH", .string("IMAGE"))
    header.set("ESO SEQ ARM", .string(sequence % 2 == 0 ? "RED" : "BLUE"))
    header.set("ESO DET BINX", .integer(1))
    header.set("ESO DET BINY", .integer(1))
    header.set("ESO DET READ SPEED", .string("100k/1pt/hg"))
    header.set("MJD-OBS", .real(61365.9 + Double(sequence) * 1e-5))
    header.set("EXPTIME", .real(0))
    header.set("SEQUENCE", .integer(Int64(sequence)))
    let file = try FITSFile.create(path, overwrite: true)
    try file.writeEmptyPrimary(header: header)
    try file.close()
}

/// Header ingest of 10,000 files (a reconciliation scan of a fresh workspace): checksum, structure, header, classification, record.
let headerIngestBenchmark = BenchmarkCase(
    name: "header ingest, 10,000 files", target: "≥ 5,000 headers/s (≤ 2 s)", targetSeconds: 2
) { directory, _ in
    let raw = directory + "/raw"
    try FileManager.default.createDirectory(atPath: raw + "/night", withIntermediateDirectories: true)
    for i in 0..<10_000 { try writeHeaderOnlyFrame(raw + "/night/H\(i).fits", sequence: i) }
    let counter = Counter()
    return {
        let workspace = directory + "/ws\(counter.next())"
        let engine = try CalibrationEngine(configuration: try benchmarkConfiguration(raw: raw, workspace: workspace),
                                           logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let start = Date()
        let report = try engine.scan(final: true)
        let rate = Double(report.recorded) / Date().timeIntervalSince(start)
        return String(format: "%d recorded, %.0f headers/s", report.recorded, rate)
    }
}

/// From a writer closing a file to its row in the database, through the real daemon (watcher, ingest service).
let closeToDatabaseLatencyBenchmark = BenchmarkCase(
    name: "file close → database, p99", target: "≤ 200 ms", targetSeconds: 0.2
) { directory, _ in
    let raw = directory + "/raw"
    try FileManager.default.createDirectory(atPath: raw, withIntermediateDirectories: true)
    let config = directory + "/calibd.yaml"
    try """
        watch: [\(raw)]
        workspace: \(directory)/ws
        instruments: \(BenchmarkFrames.configDirectory)/instruments
        """.write(toFile: config, atomically: true, encoding: .utf8)
    let calibd = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("calibd").path
    let counter = Counter()
    return {
        let round = counter.next()
        let daemon = Process()
        daemon.executableURL = URL(fileURLWithPath: calibd)
        daemon.arguments = ["--config", config, "--log-level", "error"]
        try daemon.run()
        defer { kill(daemon.processIdentifier, SIGTERM); daemon.waitUntilExit() }
        let database = directory + "/ws/calibd.sqlite"
        while !FileManager.default.fileExists(atPath: database) { usleep(10_000) }
        usleep(300_000)
        let db = try CalibrationDatabase(path: database, readOnly: true)
        var closedAt: [String: Date] = [:]
        for i in 0..<200 {
            let path = "\(raw)/L\(round)-\(i).fits"
            try writeHeaderOnlyFrame(path, sequence: round * 1000 + i)
            closedAt[path] = Date()
            usleep(20_000)
        }
        var latencies: [Double] = []
        let deadline = Date().addingTimeInterval(30)
        while latencies.count < closedAt.count && Date() < deadline {
            latencies = try db.frames().compactMap { listing in
                listing.paths.lazy.compactMap { closedAt[$0] }.first.map { listing.frame.recordedAt.timeIntervalSince($0) }
            }
            usleep(100_000)
        }
        latencies.sort()
        guard latencies.count == closedAt.count else { return "=999 only \(latencies.count) of \(closedAt.count) files recorded" }
        let p50 = latencies[latencies.count / 2], p99 = latencies[Int(Double(latencies.count - 1) * 0.99)]
        return String(format: "=%.4f p50 %.0f ms, p99 %.0f ms, max %.0f ms over %d files", p99, p50 * 1000, p99 * 1000,
                      latencies.last! * 1000, latencies.count)
    }
}

/// Numbers for repeated rounds in one process.
final class Counter: @unchecked Sendable {
    private var value = 0
    private let lock = NSLock()
    func next() -> Int { lock.withLock { value += 1; return value } }
}
