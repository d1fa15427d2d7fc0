import Glibc
import Foundation
import Testing

/// The built `calibd` and `calibctl`, found beside the test bundle (the same
/// build directory), or in `$CALIBD_BIN_DIR`.
enum Binaries {
    static let directory: String = {
        if let dir = ProcessInfo.processInfo.environment["CALIBD_BIN_DIR"] { return dir }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("calibd").path) { return url.path }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug").path
    }()

    static var calibd: String { directory + "/calibd" }
    static var calibctl: String { directory + "/calibctl" }
    static var calibBench: String { directory + "/calib-bench" }
    static var calibdFuzz: String { directory + "/calibd-fuzz" }
}

/// What a finished command printed.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

extension CommandResult {
    /// A `calibd --once` that ran to its end: exit 0, or exit 1 because a job
    /// failed or failed QC (the arc recipes' QC is not met at the binned test
    /// sizes), which the summary on stderr lists. What exit 0 meant before
    /// `--once` reported failed jobs in its status.
    var batchRanToEnd: Bool { status == 0 || (status == 1 && stderr.contains("jobs did not succeed")) }
}

/// Runs a command to completion (bounded by `timeout` seconds), in
/// `directory` when given, with `environment` when given.
@discardableResult
func runCommand(_ executable: String, _ arguments: [String], timeout: TimeInterval = 300, in directory: String? = nil,
                environment: [String: String]? = nil, addingEnvironment: [String: String] = [:]) throws -> CommandResult {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    // `environment` replaces the child's environment; `addingEnvironment` adds to this process's.
    if let environment { process.environment = environment }
    if !addingEnvironment.isEmpty {
        process.environment = (environment ?? ProcessInfo.processInfo.environment).merging(addingEnvironment) { $1 }
    }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain both pipes while the process runs so a chatty process never blocks on a full pipe.
    nonisolated(unsafe) var outData = Data(), errData = Data()
    let group = DispatchGroup()
    group.enter(); DispatchQueue.global().async { outData = out.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    group.enter(); DispatchQueue.global().async { errData = err.fileHandleForReading.readDataToEndOfFile(); group.leave() }
    let deadline = Date().addingTimeInterval(timeout)
    while process.isRunning && Date() < deadline { usleep(20_000) }
    if process.isRunning { process.terminate(); Issue.record("\(executable) \(arguments) timed out after \(timeout) s") }
    process.waitUntilExit()
    group.wait()
    return CommandResult(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
}

/// A temporary directory with a configuration tree (the repository's
/// profiles, simulator model and line list), a raw root and a workspace.
struct TestWorkspace {
    let root: String
    var config: String { root + "/config/calibd.yaml" }
    var raw: String { root + "/sim/raw" }
    var simulation: String { root + "/sim" }
    var workspace: String { root + "/ws" }
    var database: String { workspace + "/calibd.sqlite" }

    static let repositoryConfig = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config").path

    init(settleSeconds: Double = 2, stableSeconds: Double = 0.2, reconcileSeconds: Double = 5, giveUpSeconds: Double = 3) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-e2e-\(UUID().uuidString)").path
        let fm = FileManager.default
        try fm.createDirectory(atPath: root + "/config", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: raw, withIntermediateDirectories: true)
        for sub in ["instruments", "simulator", "linelists", "static"] {
            try fm.copyItem(atPath: Self.repositoryConfig + "/" + sub, toPath: root + "/config/" + sub)
        }
        try """
            watch: [../sim/raw]
            workspace: ../ws
            instruments: instruments
            workers: 1
            ingest:
              stableSeconds: \(stableSeconds)
              settleSeconds: \(settleSeconds)
              reconcileSeconds: \(reconcileSeconds)
              giveUpSeconds: \(giveUpSeconds)
            """.write(toFile: config, atomically: true, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(atPath: root) }

    /// `calibctl simulate` into this workspace's simulation directory.
    @discardableResult
    func simulate(night: String = "2026-11-21", size: Int = 512, arms: String = "RED", seed: Int = 5) throws -> CommandResult {
        let result = try runCommand(Binaries.calibctl, ["simulate", "--config", config, "--out", simulation, "--night", night,
                                                        "--size", "\(size)", "--arms", arms, "--seed", "\(seed)"])
        #expect(result.status == 0, "simulate failed: \(result.stderr)")
        return result
    }

    func calibctl(_ arguments: [String]) throws -> CommandResult {
        try runCommand(Binaries.calibctl, arguments + ["--config", config])
    }

    /// Parses a `calibctl … --json` answer.
    func json(_ arguments: [String]) throws -> Any {
        let result = try calibctl(arguments + ["--json"])
        #expect(result.status == 0, "calibctl \(arguments) failed: \(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8))
    }

    /// The simulator's truth for one arm.
    func truth(night: String = "2026-11-21", arm: String = "RED") throws -> [String: Any] {
        let data = try Data(contentsOf: URL(fileURLWithPath: "\(simulation)/truth/\(night)/truth.json"))
        let all = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let arms = try #require(all["arms"] as? [String: Any])
        return try #require(arms[arm] as? [String: Any])
    }
}

/// A running `calibd` (daemon mode) for a test; killed if the test forgets.
final class DaemonProcess {
    let process = Process()

    /// - Parameters:
    ///   - environment: added to the test's environment (e.g. the fault-injection hook `CALIBD_TEST_TRAP_ON`).
    ///   - log: a file for the daemon's (and its workers') standard error; nil discards it.
    init(config: String, logLevel: String = "warning", environment: [String: String] = [:], log: String? = nil) throws {
        process.executableURL = URL(fileURLWithPath: Binaries.calibd)
        process.arguments = ["--config", config, "--log-level", logLevel]
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let sink = FileHandle(forWritingAtPath: "/dev/null")
        process.standardOutput = sink
        if let log, FileManager.default.createFile(atPath: log, contents: nil), let handle = FileHandle(forWritingAtPath: log) {
            process.standardError = handle
        } else {
            process.standardError = sink
        }
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// Sends `signal` and waits (bounded) for the process to end; returns whether it ended.
    @discardableResult
    func stop(_ signal: Int32 = SIGTERM, within seconds: Double = 10) -> Bool {
        guard process.isRunning else { return true }
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        if !process.isRunning { process.waitUntilExit() }
        return !process.isRunning
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
}

/// Polls `condition` every 50 ms until it holds or `seconds` pass; returns whether it held.
func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}
