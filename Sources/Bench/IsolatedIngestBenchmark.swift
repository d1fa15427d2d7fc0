import CalibCore
import Foundation
import Logging
import Pipeline

/// The header-ingest benchmark with files read in a worker process, as the
/// daemon reads them (`calibd worker examine`, one JSON line per file each
/// way): what crash isolation costs on a full-speed reconciliation scan.
let isolatedHeaderIngestBenchmark = BenchmarkCase(
    name: "header ingest, 10,000 files, worker process", target: "≥ 5,000 headers/s (≤ 2 s)", targetSeconds: 2
) { directory, _ in
    let raw = directory + "/raw"
    try FileManager.default.createDirectory(atPath: raw + "/night", withIntermediateDirectories: true)
    for i in 0..<10_000 { try writeHeaderOnlyFrame(raw + "/night/H\(i).fits", sequence: i) }
    let calibd = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        .appendingPathComponent("calibd").path
    let counter = Counter()
    return {
        let workspace = directory + "/ws\(counter.next())"
        let configuration = try benchmarkConfiguration(raw: raw, workspace: workspace)
        let launcher = WorkerLauncher(executable: calibd, configurationArguments: [
            "--daemon-config", BenchmarkFrames.configDirectory + "/calibd.yaml", "--daemon-watch", raw, "--daemon-workspace", workspace,
            "--daemon-log-level", "error",
        ])
        let engine = try CalibrationEngine(configuration: configuration,
                                           logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }), workers: launcher)
        defer { engine.stopWorkers() }
        let start = Date()
        let report = try engine.scan(final: true)
        let rate = Double(report.recorded) / Date().timeIntervalSince(start)
        return String(format: "%d recorded, %.0f headers/s", report.recorded, rate)
    }
}
