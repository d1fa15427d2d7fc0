import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging
import Pipeline
import Simulator
import Synchronization

/// Archive reprocessing (#16): an archive of small simulated nights (calibrations of one arm, no
/// science), recorded once, then reduced by 1, 2 and 4 `calibd --role reduce --drain` processes
/// on one SQLite database, as a batch system would start them, with `recipeThreads: 1` (each
/// recipe on one core) and `workers: 1` (one recipe per drain). Each worker count starts from a
/// copy of the same freshly-ingested database, so each does the same jobs. The figure is the
/// one-worker wall time; the note gives nights per hour and the speed-up of each count over one,
/// and the load average before and after (the machine is shared: only the ratios mean anything).
///
/// Knobs (environment): CALIB_BENCH_ARCHIVE_NIGHTS (default 1000), CALIB_BENCH_ARCHIVE_SIZE
/// (pixels, default 256), CALIB_BENCH_ARCHIVE_WORKERS (default "1,2,4"), CALIB_BENCH_ARCHIVE_RECIPE_THREADS
/// (default 1; "none" for no limit). The simulated nights are
/// kept in /tmp/calib-bench-archive-nights-v1-NIGHTSxSIZE for the next run (simulating them is
/// minutes); `--repeat 1` is the sensible setting (one run is every count once). The default
/// size stays 256² although half of such a night's jobs (arc solution, order trace) fail QC:
/// the smallest size whose night passes every QC is 1024² (8 jobs, ≈ 6× the debug time of a
/// 256² night), which would stretch the default 1,000-night run from ≈ 40 minutes to hours
/// (see scripts/slurm-archive.sh).
let archiveReprocessBenchmark = BenchmarkCase(
    name: "archive", target: "2 workers ≥ 1.7× the nights/h of 1 (recipeThreads 1)", targetSeconds: nil
) { directory, _ in
    let environment = ProcessInfo.processInfo.environment
    let nights = Int(environment["CALIB_BENCH_ARCHIVE_NIGHTS"] ?? "") ?? 1000
    let size = Int(environment["CALIB_BENCH_ARCHIVE_SIZE"] ?? "") ?? 256
    let counts = (environment["CALIB_BENCH_ARCHIVE_WORKERS"] ?? "1,2,4").split(separator: ",").compactMap { Int($0) }
    // "none" leaves recipeThreads out (one thread per core per recipe), for the comparison.
    let threads = environment["CALIB_BENCH_ARCHIVE_RECIPE_THREADS"] ?? "1"
    let threadsLine = threads == "none" ? "" : "recipeThreads: \(threads)\n"
    let archive = try ArchiveNights.prepare(nights: nights, size: size)

    // One configuration per run: the archive as the watched root, the shipped profiles, one recipe per drain, one core per recipe.
    @Sendable func configuration(workspace: String) throws -> String {
        let file = "\(workspace).yaml"
        try """
            watch: [\(archive.raw)]
            workspace: \(workspace)
            instruments: \(BenchmarkFrames.configDirectory)/instruments
            workers: 1
            \(threadsLine)ingest:
              settleSeconds: 0
            """.write(toFile: file, atomically: true, encoding: .utf8)
        return file
    }
    // Record the frames once (not timed); every run starts from a copy of this database.
    let template = directory + "/template"
    try FileManager.default.createDirectory(atPath: template, withIntermediateDirectories: true)
    do {
        let loaded = try ConfigurationLoader.load(path: try configuration(workspace: template))
        let database = try CalibrationDatabase(path: loaded.database)
        // Warnings only: at info the ingester logs every one of the thousands of frames.
        var logger = Logger(label: "calib-bench")
        logger.logLevel = .warning
        let ingester = FrameIngester(configuration: loaded, database: database, logger: logger)
        _ = try ingester.ingest(batch: archive.files, final: true)
        let recorded = try database.frames().count
        guard recorded == archive.files.count else {
            throw ConfigurationError(file: archive.raw, key: "frames", message: "recorded \(recorded) of \(archive.files.count) frames")
        }
    }
    let calibd = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        .deletingLastPathComponent().appendingPathComponent("calibd").path
    let counter = Counter()
    return {
        let run = counter.next()
        var lines: [String] = []
        var rates: [Int: Double] = [:]
        var oneWorkerSeconds = Double.nan
        let loadBefore = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        for workers in counts {
            let workspace = "\(directory)/ws\(run)-\(workers)"
            try FileManager.default.createDirectory(atPath: workspace, withIntermediateDirectories: true)
            for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: template + "/calibd.sqlite" + suffix) {
                try FileManager.default.copyItem(atPath: template + "/calibd.sqlite" + suffix, toPath: workspace + "/calibd.sqlite" + suffix)
            }
            let config = try configuration(workspace: workspace)
            let start = benchClock()
            let processes = try (0..<workers).map { _ in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: calibd)
                process.arguments = ["--config", config, "--role", "reduce", "--drain", "--log-level", "error"]
                process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
                process.standardError = FileHandle(forWritingAtPath: "/dev/null")
                try process.run()
                return process
            }
            for process in processes { process.waitUntilExit() }
            let seconds = benchClock() - start
            // 1: some job failed or failed QC (small nights miss some QC), which the counts below show.
            guard processes.allSatisfy({ $0.terminationStatus <= 1 }) else {
                throw CocoaError(.executableLoad, userInfo: [NSFilePathErrorKey: calibd])
            }
            let database = try CalibrationDatabase(path: workspace + "/calibd.sqlite", readOnly: true)
            let jobs = try database.jobs()
            let left = try database.jobs(states: [.queued, .running, .waiting]).count
            let ranTwice = jobs.filter { $0.attempts > 1 }.count
            let succeeded = jobs.filter { $0.state == .succeeded }.count
            let rate = Double(nights) / seconds * 3600
            rates[workers] = rate
            if workers == 1 { oneWorkerSeconds = seconds }
            let speedUp = rates[1].map { String(format: ", %.2f× one worker", rate / $0) } ?? ""
            lines.append(String(format: "%d drain worker(s): %.1f s, %.0f nights/h%@; %d jobs (%d succeeded, %d left unfinished, %d with more than one attempt)",
                                workers, seconds, rate, speedUp, jobs.count, succeeded, left, ranTwice))
            try? FileManager.default.removeItem(atPath: workspace)
        }
        let loadAfter = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?"
        let summary = counts.map { workers in
            String(format: "%d: %.0f nights/h%@", workers, rates[workers] ?? .nan,
                   rates[1].map { String(format: " (%.2f×)", (rates[workers] ?? .nan) / $0) } ?? "")
        }.joined(separator: ", ")
        let own = oneWorkerSeconds.isFinite ? oneWorkerSeconds : 0
        return String(format: "=%.6f ", own) + "\(nights) nights of \(size)², \(archive.files.count) frames, recipeThreads \(threads); workers \(summary); load average \(loadBefore) → \(loadAfter)\n"
            + lines.joined(separator: "\n")
    }
}

/// The archive's nights on disk, simulated once and kept between runs.
enum ArchiveNights {
    struct Archive { var raw: String; var files: [String] }

    static func prepare(nights: Int, size: Int) throws -> Archive {
        let root = "/tmp/calib-bench-archive-nights-v1-\(nights)x\(size)"
        let marker = root + "/complete"
        if !FileManager.default.fileExists(atPath: marker) {
            try? FileManager.default.removeItem(atPath: root)
            let simulator = try BenchmarkFrames.simulator()
            var plan = simulator.plan
            plan.blocks.removeAll { $0.kind == .science }
            let nightSimulator = try NightSimulator(model: simulator.model, lines: simulator.lines, plan: plan)
            let arm = simulator.model.arms[0].name
            let first = ObservingNight("2016-01-01")!
            let failures = Mutex<[String]>([])
            // Nights are independent: simulate as many at once as there are cores.
            DispatchQueue.concurrentPerform(iterations: nights) { index in
                do {
                    _ = try nightSimulator.simulate(into: root, night: first.adding(days: index), seed: 11, size: size, arms: [arm])
                } catch {
                    failures.withLock { $0.append("\(first.adding(days: index)): \(error)") }
                }
            }
            if let failure = failures.withLock({ $0.first }) {
                throw ConfigurationError(file: root, key: "simulate", message: failure)
            }
            FileManager.default.createFile(atPath: marker, contents: Data("\(nights) nights of \(size)²\n".utf8))
        }
        let raw = root + "/raw"
        var files: [String] = []
        let enumerator = FileManager.default.enumerator(atPath: raw)
        while let name = enumerator?.nextObject() as? String {
            if name.hasSuffix(".fits") { files.append(raw + "/" + name) }
        }
        return Archive(raw: raw, files: files.sorted())
    }
}
