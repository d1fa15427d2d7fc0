import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
import Synchronization

/// Claims per second through `JobQueue` with 1, 2 and 4 workers, on SQLite and
/// on PostgreSQL (#16): each worker is an OS thread with its own handle (its own
/// SQLite connection pool, its own PostgreSQL connection), looping claim →
/// complete (no products) as a worker does with an instant recipe. A "claim"
/// here is that whole queue cycle, in one of two ways (`Cycle`): `complete` then
/// `claimNextJob` (two transactions per job), or `completeAndClaimNext` (one).
/// Both run in the same `calib-bench` run (`--only 'queue claims*'`), interleaved,
/// so their ratio is measured on one machine state.
///
/// PostgreSQL is found through `CALIBD_BENCH_POSTGRES_URL` (or
/// `CALIBD_TEST_POSTGRES_URL`); each run gets a scratch database, dropped at exit.
enum QueueClaimBench {
    /// Jobs claimed per timed run; prepare queues enough for `--repeat` runs and one more
    /// (filling costs one commit per job, minutes on a flush-bound disk for more).
    static let jobsPerRun = 2000
    static let runsPrepared = (QueueWorkerMode.option("--repeat").flatMap(Int.init) ?? 3) + 1

    enum Backend: String, Sendable { case sqlite = "SQLite", postgresql = "PostgreSQL" }

    /// How a worker ends one job and gets the next.
    enum Cycle: Sendable {
        /// `complete`, then `claimNextJob`: two commits per job.
        case twoCommits
        /// `completeAndClaimNext`: one commit per job.
        case oneCommit

        var suffix: String { self == .twoCommits ? "" : ", one commit per cycle" }
    }

    static let scratch = Mutex<[(PostgresLocation, PostgresLocation)]>([])

    static func serverLocation() throws -> PostgresLocation {
        let environment = ProcessInfo.processInfo.environment
        guard let url = environment["CALIBD_BENCH_POSTGRES_URL"] ?? environment["CALIBD_TEST_POSTGRES_URL"] else {
            throw PostgresFailure(message: "no server: set CALIBD_BENCH_POSTGRES_URL=postgresql://user@/db?host=/socket/dir", sqlState: nil)
        }
        return try PostgresLocation(url: url)
    }

    /// Opens `count + 1` handles on a new database: one to fill it, one per worker.
    static func handles(_ backend: Backend, directory: String, count: Int) throws -> [any JobQueue] {
        switch backend {
        case .sqlite:
            let path = directory + "/queue.sqlite"
            return try (0...count).map { _ in try CalibrationDatabase(path: path) }
        case .postgresql:
            let server = try serverLocation()
            let database = try PostgresScratchDatabase.create(on: server, prefix: "calib_bench")
            scratch.withLock { $0.append((database, server)) }
            atexit {
                for (database, server) in QueueClaimBench.scratch.withLock({ $0 }) {
                    try? PostgresScratchDatabase.drop(database, on: server)
                }
            }
            return try (0...count).map { _ in try PostgresJobQueue(location: database) }
        }
    }

    static func benchmark(_ backend: Backend, workers: Int, cycle: Cycle = .twoCommits) -> BenchmarkCase {
        BenchmarkCase(
            name: "queue claims, \(workers) worker\(workers == 1 ? "" : "s"), \(backend.rawValue)\(cycle.suffix)",
            target: "≥ 500 claims/s", targetSeconds: Double(jobsPerRun) / 500
        ) { directory, _ in
            let queues = try handles(backend, directory: directory, count: workers)
            let now = Date()
            for n in 0..<(jobsPerRun * runsPrepared) {
                try queues[0].ensureJob(PlannedJob(
                    recipe: "bench", recipeVersion: "1", parameters: "{\"n\":\(n)}", instrument: "SIMECH",
                    night: "2027-01-14", setup: "n=\(n)", productType: .masterBias, inputs: []), now: now)
            }
            // Each commit, with synchronous_commit on, waits for a WAL flush to disk, which
            // is what bounds one worker (more workers share flushes: group commit). Printed so a figure is read with it.
            let durability = try (queues[0] as? PostgresJobQueue).map {
                "; fsync \(try $0.serverSetting("fsync")), synchronous_commit \(try $0.serverSetting("synchronous_commit"))"
            } ?? ""
            let run = Atomic<Int>(0)
            return {
                let budget = jobsPerRun
                let claimed = Atomic<Int>(0)
                let twice = Atomic<Int>(0)
                let failures = Mutex<[String]>([])
                let seen = Mutex<Set<Int64>>([])
                let round = run.add(1, ordering: .relaxed).newValue
                let group = DispatchGroup()
                let start = DispatchTime.now().uptimeNanoseconds
                for w in 1...workers {
                    group.enter()
                    Thread {
                        defer { group.leave() }
                        let queue = queues[w]
                        let owner = "bench-\(round)-\(w)"
                        // Stop at this run's budget so later repeats find queued jobs too.
                        func withinBudget() -> Bool { claimed.add(1, ordering: .relaxed).newValue <= budget }
                        do {
                            var job = withinBudget() ? try queue.claimNextJob(owner: owner, lease: 600, now: Date()) : nil
                            while let current = job {
                                if !seen.withLock({ $0.insert(current.id!).inserted }) { twice.add(1, ordering: .relaxed) }
                                let more = withinBudget()
                                switch cycle {
                                case .oneCommit where more:
                                    job = try queue.completeAndClaimNext(job: current, outcome: .succeeded, products: [], owner: owner,
                                                                         lease: 600, now: Date()).next
                                default:
                                    _ = try queue.complete(job: current, outcome: .succeeded, products: [], now: Date())
                                    job = more ? try queue.claimNextJob(owner: owner, lease: 600, now: Date()) : nil
                                }
                            }
                        } catch { failures.withLock { $0.append("\(error)") } }
                    }.start()
                }
                group.wait()
                let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                if let failure = failures.withLock({ $0.first }) { throw PostgresFailure(message: failure, sqlState: nil) }
                let done = seen.withLock { $0.count }
                return String(format: "%.0f claims/s (%d claimed, %d twice)", Double(done) / seconds, done, twice.load(ordering: .relaxed))
                    + durability
            }
        }
    }

    /// Reclaim time with real clocks: a worker claims with a 2 s lease and stops
    /// (as if SIGKILLed: no heartbeat, no fail); a second worker sweeps expired
    /// leases and tries to claim every 100 ms. The figure is the time from the dead
    /// worker's claim to the survivor's claim: the lease plus at most one poll.
    static func reclaim(_ backend: Backend) -> BenchmarkCase {
        let lease: TimeInterval = 2
        let poll: TimeInterval = 0.1
        return BenchmarkCase(
            name: "queue reclaim after a worker stops, \(backend.rawValue)", target: "≤ lease + 1 s (3 s)", targetSeconds: lease + 1
        ) { directory, _ in
            let queues = try handles(backend, directory: directory, count: 2)
            let round = Atomic<Int>(0)
            return {
                let n = round.add(1, ordering: .relaxed).newValue
                try queues[0].ensureJob(PlannedJob(
                    recipe: "bench-reclaim", recipeVersion: "1", parameters: "{\"round\":\(n)}", instrument: "SIMECH",
                    night: "2027-01-14", setup: "round=\(n)", productType: .masterBias, inputs: []), now: Date())
                guard let dead = try queues[1].claimNextJob(owner: "doomed-\(n)", lease: lease, now: Date()) else {
                    throw PostgresFailure(message: "nothing to claim", sqlState: nil)
                }
                let start = Date()
                while true {
                    try queues[2].recoverLeases(now: Date(), owner: nil)
                    if let job = try queues[2].claimNextJob(owner: "survivor-\(n)", lease: 60, now: Date()) {
                        let waited = Date().timeIntervalSince(start)
                        _ = try queues[2].complete(job: job, outcome: .succeeded, products: [], now: Date())
                        guard job.id == dead.id, job.attempts == 2 else {
                            throw PostgresFailure(message: "reclaimed job \(job.id!) attempt \(job.attempts), expected \(dead.id!) attempt 2", sqlState: nil)
                        }
                        return String(format: "=%.3f running again %.2f s after its worker stopped (lease %.0f s, poll %.1f s)",
                                      waited, waited, lease, poll)
                    }
                    Thread.sleep(forTimeInterval: poll)
                }
            }
        }
    }
}

let queueClaimBenchmarks: [BenchmarkCase] =
    [1, 2, 4].flatMap { workers in
        [QueueClaimBench.Backend.sqlite, .postgresql].flatMap { backend in
            [QueueClaimBench.benchmark(backend, workers: workers), QueueClaimBench.benchmark(backend, workers: workers, cycle: .oneCommit)]
        }
    }
    + [QueueClaimBench.reclaim(.sqlite), QueueClaimBench.reclaim(.postgresql)]
