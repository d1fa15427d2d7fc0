import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
import Glibc
import Testing

/// The queue's done-when with real OS processes (#16), on SQLite and on PostgreSQL:
/// worker processes (`calib-bench --queue-worker`, see `Sources/Bench/QueueWorkerMode.swift`)
/// sharing one queue; one SIGKILLed while it holds a job, one SIGSTOPped past its lease.
/// Small job counts here; `scripts/queue-processes.sh` runs ≥ 100,000 jobs.
enum QueueProcessScenarios {
    /// A queue the workers reach by `databaseArgument`, and readers for what they did.
    struct Target {
        let backend: String
        let databaseArgument: String
        let queue: any JobQueue
        let job: (Int64) throws -> JobRecord?
        /// The states of a job's history events, oldest first.
        let eventStates: (Int64) throws -> [JobState]
    }

    static func job(_ n: Int) -> PlannedJob {
        PlannedJob(recipe: "queue-process", recipeVersion: "1", parameters: "{\"n\":\(n)}", instrument: "SIMECH",
                   night: "2027-01-14", setup: "n=\(n)", productType: .masterBias, inputs: [])
    }

    /// A SIGKILLed worker's job is running again within lease + 1 s of the kill, as the next attempt.
    static func killedWorkersJobIsReclaimed(_ target: Target) throws {
        let lease = 2.0, heartbeat = 0.5
        // Given one job, claimed by worker A, which holds it for a minute and heartbeats meanwhile
        let id = try target.queue.ensureJob(job(1), now: Date()).job.id!
        let a = try WorkerProcess(target.databaseArgument, owner: "A", ["--lease", "\(lease)", "--heartbeat", "\(heartbeat)", "--hold", "60"])
        defer { a.stop() }
        _ = try a.waitForLine(prefix: "claimed \(id) 1 ", timeout: 30)
        // and, after at least one heartbeat, a second worker B polling the queue
        let b = try WorkerProcess(target.databaseArgument, owner: "B", ["--lease", "\(lease)", "--poll", "0.05", "--sweep", "0.05", "--idle-exit", "60"])
        defer { b.stop() }
        _ = try b.waitForLine(prefix: "ready B", timeout: 30)
        Thread.sleep(forTimeInterval: max(0, 1.2 - Date().timeIntervalSince(a.started)))

        // When A is killed with SIGKILL (no heartbeat, no fail, no goodbye)
        let killedAt = Date().timeIntervalSince1970
        a.signal(SIGKILL)
        #expect(a.waitForExit(timeout: 10) != nil, "\(target.backend): A did not die")

        // Then B claims the job as attempt 2 within lease + 1 s of the kill, and no earlier than its lease allows
        let claim = try b.waitForLine(prefix: "claimed \(id) 2 ", timeout: lease + 10)
        let claimedAt = try #require(Double(claim.split(separator: " ").last ?? ""))
        let reclaim = claimedAt - killedAt
        #expect(reclaim <= lease + 1, "\(target.backend): reclaimed \(reclaim) s after the kill, lease \(lease) s")
        #expect(reclaim >= lease - heartbeat - 0.1, "\(target.backend): reclaimed \(reclaim) s after the kill: before A's lease ran out")
        _ = try b.waitForLine(prefix: "completed \(id) 2 ", timeout: 10)
        let stored = try #require(try target.job(id))
        #expect(stored.state == .succeeded && stored.attempts == 2, "\(target.backend): \(stored.state) attempt \(stored.attempts)")
        #expect(!a.output.contains("completed"), "\(target.backend): the killed worker recorded a completion")
        print("\(target.backend): job running again \(String(format: "%.2f", reclaim)) s after SIGKILL (lease \(lease) s)")
    }

    /// A worker SIGSTOPped past its lease and SIGCONTed cannot record its stale result.
    static func pausedWorkerIsFenced(_ target: Target) throws {
        let lease = 1.5
        // Given one job claimed by worker A (1 s of work, heartbeats every 0.3 s: unpaused, it would finish in its lease)
        let id = try target.queue.ensureJob(job(1), now: Date()).job.id!
        let a = try WorkerProcess(target.databaseArgument, owner: "A", ["--lease", "\(lease)", "--heartbeat", "0.3", "--hold", "1", "--idle-exit", "60"])
        defer { a.stop() }
        let claim = try a.waitForLine(prefix: "claimed \(id) 1 ", timeout: 30)
        let claimedAt = try #require(Double(claim.split(separator: " ").last ?? ""))
        // When A is stopped with SIGSTOP at once, and another worker reclaims and completes the job meanwhile
        a.signal(SIGSTOP)
        let b = try WorkerProcess(target.databaseArgument, owner: "B", ["--lease", "\(lease)", "--poll", "0.05", "--sweep", "0.05", "--idle-exit", "60"])
        defer { b.stop() }
        _ = try b.waitForLine(prefix: "completed \(id) 2 ", timeout: lease + 15)
        // (stopped before its first heartbeat, A's lease ran out `lease` after its claim)
        let held = Date().timeIntervalSince1970 - claimedAt
        #expect(held > lease, "\(target.backend): A resumed \(held) s after its claim, not past its \(lease) s lease")
        // and A then resumes with SIGCONT
        a.signal(SIGCONT)

        // Then A's heartbeat or completion is refused: its stale result is not recorded
        _ = try a.waitForLine(prefix: "fenced \(id) 1 ", timeout: 15)
        #expect(!a.output.contains("completed \(id)"), "\(target.backend): the stale worker recorded its result")
        let stored = try #require(try target.job(id))
        #expect(stored.state == .succeeded && stored.attempts == 2 && stored.leaseOwner == nil,
                "\(target.backend): \(stored.state) attempt \(stored.attempts)")
        let finishes = try target.eventStates(id).filter { $0 == .succeeded }
        #expect(finishes.count == 1, "\(target.backend): \(finishes.count) completions recorded")
    }

    /// Four worker processes drain one queue: every job completed exactly once, none twice, none lost.
    static func fourProcessesShareOneQueue(_ target: Target, jobs: Int) throws {
        let count = jobs
        for n in 0..<count { try target.queue.ensureJob(job(n), now: Date()) }
        let workers = try (1...4).map { try WorkerProcess(target.databaseArgument, owner: "W\($0)", ["--lease", "30", "--idle-exit", "1.5"]) }
        defer { workers.forEach { $0.stop() } }
        for worker in workers {
            #expect(worker.waitForExit(timeout: 120) == 0, "\(target.backend): a worker failed: \(worker.errors)")
        }
        var completions: [Int64: Int] = [:]
        var claims: [Int64: Int] = [:]
        for worker in workers {
            for line in worker.output.split(separator: "\n") {
                let fields = line.split(separator: " ")
                guard fields.count >= 2, let id = Int64(fields[1]) else { continue }
                if fields[0] == "completed" { completions[id, default: 0] += 1 }
                if fields[0] == "claimed" { claims[id, default: 0] += 1 }
            }
        }
        #expect(completions.count == count, "\(target.backend): \(completions.count) of \(count) jobs completed")
        #expect(completions.values.allSatisfy { $0 == 1 } && claims.values.allSatisfy { $0 == 1 },
                "\(target.backend): some job was claimed or completed twice")
        #expect(workers.filter { $0.output.contains("completed") }.count >= 2, "\(target.backend): one worker did everything")
    }
}

/// A `calib-bench --queue-worker` process with its stdout in a file (the test reads it as it grows).
final class WorkerProcess {
    /// `calib-bench`, built beside this test bundle, or in `$CALIBD_BIN_DIR`.
    static let executable: String = {
        if let dir = ProcessInfo.processInfo.environment["CALIBD_BIN_DIR"] { return dir + "/calib-bench" }
        var url = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        for _ in 0..<4 {
            url.deleteLastPathComponent()
            if FileManager.default.isExecutableFile(atPath: url.appendingPathComponent("calib-bench").path) { return url.path + "/calib-bench" }
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent(".build/debug/calib-bench").path
    }()

    let pid: pid_t
    let started = Date()
    private let outputPath: String
    private let errorPath: String
    private var exited = false

    init(_ database: String, owner: String, _ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.executable) else {
            throw PostgresFailure(message: "\(Self.executable) is not built (swift build builds it)", sqlState: nil)
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-queue-process-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        outputPath = directory + "/\(owner).out"
        errorPath = directory + "/\(owner).err"
        let argv = [Self.executable, "--queue-worker", "--database", database, "--owner", owner] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, errorPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw PostgresFailure(message: "cannot start \(argv[0]): errno \(spawned)", sqlState: nil) }
        self.pid = pid
    }

    deinit { stop() }

    var output: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) { if !exited { kill(pid, number) } }

    /// The first output line starting with `prefix`, waiting up to `timeout` seconds for it.
    func waitForLine(prefix: String, timeout: TimeInterval) throws -> String {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if let line = output.split(separator: "\n").first(where: { $0.hasPrefix(prefix) }) { return String(line) }
            guard Date() < deadline else {
                throw PostgresFailure(message: "no '\(prefix)…' line within \(timeout) s; output:\n\(output)\nerrors:\n\(errors)", sqlState: nil)
            }
            usleep(10_000)
        }
    }

    /// The exit status (WEXITSTATUS, or 128 + signal), or nil when it is still running after `timeout`.
    func waitForExit(timeout: TimeInterval) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                exited = true
                // WIFEXITED / WEXITSTATUS / WTERMSIG spelled out (C macros).
                return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            }
            if result < 0 && errno != EINTR { exited = true; return nil }
            guard Date() < deadline else { return nil }
            usleep(10_000)
        }
    }

    /// Kills it if it still runs (a stopped process too) and reaps it.
    func stop() {
        guard !exited else { return }
        kill(pid, SIGKILL)
        _ = waitForExit(timeout: 10)
    }
}

@Suite("Queue worker processes on SQLite", .serialized)
struct SQLiteQueueWorkerProcessTests {
    static func target() throws -> QueueProcessScenarios.Target {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-processes-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/calibd.sqlite"
        let database = try CalibrationDatabase(path: path)
        return .init(backend: "sqlite", databaseArgument: path, queue: database, job: { try database.job(id: $0) },
                     eventStates: { try database.events(ofJob: $0).map(\.state) })
    }

    @Test("a SIGKILLed worker process's job is running again within lease + 1 s")
    func sigkill() throws { try QueueProcessScenarios.killedWorkersJobIsReclaimed(try Self.target()) }

    @Test("a worker process SIGSTOPped past its lease and resumed cannot record its stale result")
    func sigstop() throws { try QueueProcessScenarios.pausedWorkerIsFenced(try Self.target()) }

    @Test("4 worker processes over 300 jobs: each completed once, none lost")
    func fourProcesses() throws { try QueueProcessScenarios.fourProcessesShareOneQueue(try Self.target(), jobs: 300) }
}

@Suite("Queue worker processes on PostgreSQL", .serialized,
       .enabled(if: TestPostgresServer.available, Comment(rawValue: TestPostgresServer.skipReason)))
struct PostgresQueueWorkerProcessTests {
    static func withTarget(_ body: (QueueProcessScenarios.Target) throws -> Void) throws {
        let server = try TestPostgresServer.found.get()
        let scratch = try PostgresScratchDatabase.create(on: server, prefix: "calibd_processes")
        defer { try? PostgresScratchDatabase.drop(scratch, on: server) }
        let queue = try PostgresJobQueue(location: scratch)
        // The workers need the URL itself; a password goes to them in a file, never on a command line.
        var url = scratch.redacted
        if let password = scratch.password {
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-pgpass-\(UUID().uuidString)").path
            FileManager.default.createFile(atPath: file, contents: Data(password.utf8), attributes: [.posixPermissions: 0o600])
            url = url.replacingOccurrences(of: ":***@", with: "@") + (url.contains("?") ? "&" : "?") + "passfile=\(file)"
        }
        try body(.init(backend: "postgresql", databaseArgument: url, queue: queue, job: { try queue.job(id: $0) },
                       eventStates: { try queue.events(ofJob: $0).map(\.state) }))
    }

    @Test("a SIGKILLed worker process's job is running again within lease + 1 s")
    func sigkill() throws { try Self.withTarget(QueueProcessScenarios.killedWorkersJobIsReclaimed) }

    @Test("a worker process SIGSTOPped past its lease and resumed cannot record its stale result")
    func sigstop() throws { try Self.withTarget(QueueProcessScenarios.pausedWorkerIsFenced) }

    @Test("4 worker processes over 1,000 jobs: each completed once, none lost")
    func fourProcesses() throws { try Self.withTarget { try QueueProcessScenarios.fourProcessesShareOneQueue($0, jobs: 1000) } }
}
