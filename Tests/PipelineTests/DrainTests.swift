import CalibDB
import Foundation
import Synchronization
import Testing

/// `calibd --role reduce --drain` (#16): what a batch system starts N of to
/// reprocess an archive — run jobs until none is left, then exit.
@Suite("calibd --role reduce --drain", .serialized)
struct DrainTests {
    /// Every simulated FITS file under the raw root, sorted.
    static func rawFiles(_ ws: TestWorkspace) -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: ws.raw)
        var files: [String] = []
        while let name = enumerator?.nextObject() as? String {
            if name.hasSuffix(".fits") { files.append(ws.raw + "/" + name) }
        }
        return files.sorted()
    }

    @Test("a drain runs every job the recorded frames allow, dependants included, records no frame, and exits")
    func drainsTheQueue() throws {
        // Given a night's frames recorded by calibctl ingest (which plans nothing), one file left unrecorded in the root
        let ws = try TestWorkspace(settleSeconds: 0.5)
        defer { ws.remove() }
        try ws.simulate()
        let files = Self.rawFiles(ws)
        try #require(files.count > 2)
        let ingest = try ws.calibctl(["ingest"] + files.dropLast())
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let database = try CalibrationDatabase(path: ws.database)
        let framesBefore = try database.frames().count
        #expect(try database.jobs().isEmpty)

        // When a reduce-only drain runs
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--role", "reduce", "--drain", "--log-level", "warning"])

        // Then it ran to its end and said so (exit 1 only for jobs that failed, which it names)
        #expect(run.status == 0 || (run.status == 1 && run.stderr.contains("jobs did not succeed")), "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("calibd --drain:"), "\(run.stdout)")
        // and nothing is left to run: each planned job ran, the master bias's dependants too
        let jobs = try database.jobs()
        #expect(try database.jobs(states: [.queued, .running, .waiting]).isEmpty)
        let ranLine = try #require(run.stdout.split(separator: "\n").first { $0.hasPrefix("calibd --drain:") })
        let ran = Int(ranLine.split(separator: " ")[2]) ?? -1
        #expect(ran == jobs.count, "\(ranLine) but \(jobs.count) jobs in the database")
        #expect(Set(jobs.map(\.recipe)).count > 1, "only \(Set(jobs.map(\.recipe))) ran: dependants were not planned")
        #expect(try database.products(type: .masterBias).count == 1)
        // and the reduce role recorded no frame: the file left in the root is still unrecorded
        #expect(try database.frames().count == framesBefore)
        if run.status == 1 {
            let failed = jobs.filter { [.failed, .qcFailed].contains($0.state) }
            #expect(!failed.isEmpty && failed.allSatisfy { run.stderr.contains("job \($0.id!) ") }, "\(run.stderr)")
        }
    }

    @Test("two drains on one database, as two tasks of a job array: every job run once, by one of them")
    func twoDrainsShareTheQueue() throws {
        // Given a night's frames recorded, nothing planned
        let ws = try TestWorkspace(settleSeconds: 0.5)
        defer { ws.remove() }
        try ws.simulate()
        #expect(try ws.calibctl(["ingest"] + Self.rawFiles(ws)).status == 0)

        // When two drains start at once
        let results = Mutex<[CommandResult]>([])
        let group = DispatchGroup()
        for _ in 0..<2 {
            group.enter()
            Thread {
                defer { group.leave() }
                if let run = try? runCommand(Binaries.calibd, ["--config", ws.config, "--role", "reduce", "--drain", "--log-level", "warning"]) {
                    results.withLock { $0.append(run) }
                }
            }.start()
        }
        group.wait()

        // Then both ran to their end, nothing is left, and the jobs they report add up to the jobs there are, each run once
        let runs = results.withLock { $0 }
        try #require(runs.count == 2)
        for run in runs {
            #expect(run.status == 0 || (run.status == 1 && run.stderr.contains("jobs did not succeed")), "\(run.stdout)\n\(run.stderr)")
        }
        let database = try CalibrationDatabase(path: ws.database)
        let jobs = try database.jobs()
        #expect(try database.jobs(states: [.queued, .running, .waiting]).isEmpty)
        let reported = runs.compactMap { run in
            run.stdout.split(separator: "\n").first { $0.hasPrefix("calibd --drain:") }.flatMap { Int($0.split(separator: " ")[2]) }
        }
        #expect(reported.reduce(0, +) == jobs.count, "drains reported \(reported), the database has \(jobs.count) jobs")
        #expect(jobs.allSatisfy { $0.attempts == 1 }, "\(jobs.map { "\($0.recipe): \($0.attempts)" })")
    }

    @Test("a drain whose job fails QC exits 1 and names the job and why")
    func failedJobExitsNonZero() throws {
        // Given only the bias frames recorded, with a read-noise QC range the master bias cannot meet
        let ws = try TestWorkspace(settleSeconds: 0.5)
        defer { ws.remove() }
        try ws.simulate()
        let profile = ws.root + "/config/instruments/simech.yaml"
        let text = try String(contentsOfFile: profile, encoding: .utf8)
        try #require(text.contains("readNoiseADU: {min: 0.5, max: 8.0}"))
        try text.replacingOccurrences(of: "readNoiseADU: {min: 0.5, max: 8.0}", with: "readNoiseADU: {min: 0.5, max: 0.6}")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        let biases = try Self.rawFiles(ws).filter { try String(contentsOfFile: $0, encoding: .isoLatin1).contains("'BIAS") }
        try #require(!biases.isEmpty)
        #expect(try ws.calibctl(["ingest"] + biases).status == 0)

        // When a drain runs
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--role", "reduce", "--drain", "--log-level", "warning"])

        // Then it exits 1, naming the master bias job and its QC failure
        let database = try CalibrationDatabase(path: ws.database)
        let job = try #require(try database.jobs().first { $0.recipe == "mbias" })
        #expect(job.state == .qcFailed)
        #expect(run.status == 1, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stderr.contains("job \(job.id!) mbias") && run.stderr.contains("qc_failed"), "\(run.stderr)")
    }

    @Test("--drain without --role reduce, or with --once, is refused with the reason")
    func refusedCombinations() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let noRole = try runCommand(Binaries.calibd, ["--config", ws.config, "--drain"])
        #expect(noRole.status == 64 && noRole.stderr.contains("--role reduce"), "\(noRole.status) \(noRole.stderr)")
        let both = try runCommand(Binaries.calibd, ["--config", ws.config, "--role", "reduce", "--drain", "--once"])
        #expect(both.status == 64 && both.stderr.contains("give one of them"), "\(both.status) \(both.stderr)")
        let daemon = try runCommand(Binaries.calibd, ["--config", ws.config, "--role", "ingest"])
        #expect(daemon.status == 64 && daemon.stderr.contains("runs only as a batch"), "\(daemon.status) \(daemon.stderr)")
    }
}
