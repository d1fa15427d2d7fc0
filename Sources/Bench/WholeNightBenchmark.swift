import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging
import Pipeline
import Simulator

/// A whole simulated night of calibration frames, ingested and reduced end to end (`calibd --once`), both arms,
/// beside the night's I/O floor measured in the same run on the same files: every raw frame read once and every
/// product written once with fsync. The figure is the night's own time; the note gives it as a ratio to the
/// floor, and the lines under the table give each job's phases (`job_attempt_timing`) and peak memory.
/// The table's peak RSS is this benchmark process's (the simulator's frames); the night's own is in the note.
let wholeNightBenchmark = BenchmarkCase(
    name: "whole night end to end (calibd --once, 2 arms)", target: "≤ 3× I/O floor, ≤ 1 GiB", targetSeconds: nil
) { directory, size in
    let simulator = try BenchmarkFrames.simulator()
    var plan = simulator.plan
    plan.blocks.removeAll { $0.kind == .science }
    let night = try NightSimulator(model: simulator.model, lines: simulator.lines, plan: plan)
        .simulate(into: directory + "/sim", night: ObservingNight("2026-11-21")!, seed: 3, size: size)
    let counter = Counter()
    // CALIB_BENCH_WORKERS: recipes at once (the shipped configuration's `workers`, 1, by default).
    let workers = ProcessInfo.processInfo.environment["CALIB_BENCH_WORKERS"].flatMap { Int($0) }
    // The calibd built beside this benchmark, run as an operator would: `calibd --once`, which
    // examines files and runs recipes in its `calibd worker` processes.
    let calibd = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("calibd").path
    var configFile = BenchmarkFrames.configDirectory + "/calibd.yaml"
    if let workers {
        let text = try String(contentsOfFile: configFile, encoding: .utf8)
            .replacingOccurrences(of: "\nworkers: 1\n", with: "\nworkers: \(workers)\n")
            .replacingOccurrences(of: "\ninstruments: instruments\n", with: "\ninstruments: \(BenchmarkFrames.configDirectory)/instruments\n")
        configFile = directory + "/calibd.yaml"
        try text.write(toFile: configFile, atomically: true, encoding: .utf8)
    }
    let config = configFile
    return {
        let workspace = directory + "/ws\(counter.next())"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: calibd)
        process.arguments = ["--config", config, "--watch", directory + "/sim/raw", "--workspace", workspace, "--once", "--log-level", "error"]
        // Its summary would mix with this child's one-line answer to the table.
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        let start = benchClock()
        try process.run()
        let memory = ProcessTreeMemory(root: process.processIdentifier)
        process.waitUntilExit()
        let nightSeconds = benchClock() - start
        let peakTree = memory.stop()
        // 1: some job failed or failed QC, which the note shows.
        guard process.terminationStatus <= 1 else { throw CocoaError(.executableLoad, userInfo: [NSFilePathErrorKey: calibd]) }
        let database = try CalibrationDatabase(path: workspace + "/calibd.sqlite", readOnly: true)
        let workers = try ConfigurationLoader.load(path: config).workers
        let products = try database.products()
        let floor = try IOFloor.measure(raw: night.files, products: products.map(\.path), scratch: directory + "/floor")
        let timings = try database.timings()
        let jobs = Dictionary(uniqueKeysWithValues: try database.jobs().map { ($0.id!, $0) })
        let peakChild = timings.compactMap(\.peakRSSBytes).max().map { Double($0) / 1048576 } ?? .nan
        var note = String(format: "=%.6f %d worker(s), %d frames, %d jobs, %d/%d products QC-passed; I/O floor %.2f s (read %.2f s of %.0f MiB, write+fsync %.2f s of %.0f MiB): night = %.1f× floor; peak RSS of calibd and its workers together %.0f MiB (sampled every 10 ms), largest recipe process %.0f MiB",
                          nightSeconds, workers, night.files.count, timings.count, products.filter(\.qcPassed).count, products.count,
                          floor.seconds, floor.readSeconds, Double(floor.readBytes) / 1048576, floor.writeSeconds,
                          Double(floor.writeBytes) / 1048576, nightSeconds / floor.seconds, Double(peakTree) / 1048576, peakChild)
        note += "\n" + PhaseTable.render(timings: timings, jobs: jobs, nightSeconds: nightSeconds)
        return note
    }
}

/// The least any implementation must spend on a night's files: each raw frame read once
/// from the page cache or disk (as the pipeline finds it, right after it ran) and each
/// product's bytes written once to a new file and fsynced, one file after another.
struct IOFloor {
    var readSeconds = 0.0, writeSeconds = 0.0
    var readBytes = 0, writeBytes = 0
    var seconds: Double { readSeconds + writeSeconds }

    static func measure(raw: [String], products: [String], scratch: String) throws -> IOFloor {
        var floor = IOFloor()
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        var start = benchClock()
        for path in raw {
            let fd = open(path, O_RDONLY)
            guard fd >= 0 else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path]) }
            while case let n = read(fd, buffer.baseAddress, buffer.count), n > 0 { floor.readBytes += n }
            close(fd)
        }
        floor.readSeconds = benchClock() - start
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        for (index, path) in products.enumerated() {
            let bytes = try Data(contentsOf: URL(fileURLWithPath: path))  // not timed: the product's bytes, in memory
            let copy = "\(scratch)/p\(index).fits"
            start = benchClock()
            let fd = open(copy, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            guard fd >= 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: copy]) }
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count, case let n = write(fd, raw.baseAddress! + offset, raw.count - offset), n > 0 { offset += n }
            }
            fsync(fd)
            close(fd)
            floor.writeSeconds += benchClock() - start
            floor.writeBytes += bytes.count
        }
        try? FileManager.default.removeItem(atPath: scratch)
        return floor
    }
}

/// The largest resident memory of a process and all its descendants at once, sampled
/// every 10 ms from /proc (a short peak between samples can be missed).
final class ProcessTreeMemory: @unchecked Sendable {
    private let lock = NSLock()
    private var running = true
    private var peak = 0
    private let done = DispatchSemaphore(value: 0)

    init(root: pid_t) {
        let thread = Thread { [self] in
            while lock.withLock({ running }) {
                let total = Self.tree(root).map(Self.residentBytes).reduce(0, +)
                lock.withLock { peak = max(peak, total) }
                usleep(10_000)
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops sampling; returns the peak in bytes.
    func stop() -> Int {
        lock.withLock { running = false }
        done.wait()
        return lock.withLock { peak }
    }

    static func tree(_ pid: pid_t) -> [pid_t] {
        var result = [pid]
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        for task in tasks {
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            for child in children.split(separator: " ").compactMap({ pid_t($0) }) { result += tree(child) }
        }
        return result
    }

    static func residentBytes(_ pid: pid_t) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int($0) })
        else { return 0 }
        return kilobytes * 1024
    }
}

/// The night's per-job phases as lines under the benchmark table.
enum PhaseTable {
    static func render(timings: [JobTiming], jobs: [Int64: JobRecord], nightSeconds: Double) -> String {
        let names = ["process", "database", "read", "compute", "write", "fsync", "other"]
        var lines = ["job  recipe                     setup                  wall   " + names.map { pad($0, 9) }.joined() + "peak RSS"]
        var totals = [Double](repeating: 0, count: names.count)
        var wall = 0.0
        for t in timings {
            let job = jobs[t.jobId]
            let phases = t.phases.map(\.seconds)
            for i in phases.indices { totals[i] += phases[i] }
            wall += t.wallSeconds
            lines.append(pad("\(t.jobId)", 5) + pad(job?.recipe ?? "?", 27) + pad(String((job?.setup ?? "").prefix(22)), 23)
                         + pad(String(format: "%.2f", t.wallSeconds), 7) + phases.map { pad(String(format: "%.3f", $0), 9) }.joined()
                         + (t.peakRSSBytes.map { String(format: "%.0f MiB", Double($0) / 1048576) } ?? "—"))
        }
        lines.append(pad("sum", 55) + pad(String(format: "%.2f", wall), 7) + totals.map { pad(String(format: "%.3f", $0), 9) }.joined())
        // How much of the night had a job running, and two at once (from the jobs' start and end times).
        var edges: [(Date, Int)] = []
        for job in jobs.values { if let s = job.startedAt, let f = job.finishedAt { edges += [(s, 1), (f, -1)] } }
        edges.sort { $0.0 < $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
        var running = 0, busy = 0.0, both = 0.0
        for (i, edge) in edges.enumerated() {
            running += edge.1
            guard i + 1 < edges.count else { break }
            let span = edges[i + 1].0.timeIntervalSince(edge.0)
            if running >= 1 { busy += span }
            if running >= 2 { both += span }
        }
        lines.append(String(format: "(sum of job walls %.2f s in a night of %.2f s: a job ran during %.2f s of it, two at once during %.2f s; ingest and planning are the rest)",
                            wall, nightSeconds, busy, both))
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String { text.padding(toLength: max(width, text.count + 1), withPad: " ", startingAt: 0) }
}

func benchClock() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

/// Runs async work to completion from synchronous benchmark code.
func runSynchronously<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

final class ResultBox<T>: @unchecked Sendable { var result: Result<T, any Error>? }
