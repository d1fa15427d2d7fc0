import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
import Glibc
import Synchronization

/// Hidden `calib-bench` modes that make real OS processes of queue workers,
/// for the queue's done-when under processes (#16): several worker processes
/// on one queue, SIGKILL reclaim, SIGSTOP fencing. Used by
/// `Tests/JobQueueContractTests/QueueWorkerProcessTests.swift` (small counts)
/// and `scripts/queue-processes.sh` (≥ 100,000 jobs); not listed in `--help`.
///
///     calib-bench --queue-fill N --database D [--threads T]
///     calib-bench --queue-worker --database D [--owner NAME] [--lease S] [--heartbeat S]
///                 [--hold S] [--poll S] [--idle-exit S] [--sweep S] [--two-commits]
///     calib-bench --queue-report --database D
///
/// `D` is a SQLite file path or a `postgresql://` URL. A worker loops as the
/// daemon's does with an instant recipe: claim with a lease, heartbeat from
/// another thread every `--heartbeat` s while it holds the job, "work" for
/// `--hold` s on a job's first attempt only (so a reclaiming worker finishes at
/// once), then complete and claim the next job in one transaction
/// (`completeAndClaimNext`; with `--two-commits`, `complete` then `claimNextJob`,
/// the cycle before it); when idle it sweeps expired leases and polls every
/// `--poll` s, and exits after `--idle-exit` s without a claim. Each event is
/// one unbuffered line on stdout, so a SIGKILL loses none of what happened:
///
///     ready <owner> <unix-seconds>                 (connected, about to poll)
///     claimed <job> <attempt> <unix-seconds>      (after the previous `completed` when claimed with it)
///     completed <job> <attempt> <unix-seconds>
///     fenced <job> <attempt> <unix-seconds>        (complete refused: lease lost)
///     lease-lost <job> <attempt> <unix-seconds>    (a heartbeat refused)
///     exit claimed=<n> completed=<n> fenced=<n> first=<unix-seconds> last=<unix-seconds>
enum QueueWorkerMode {
    static func option(_ name: String) -> String? {
        let arguments = CommandLine.arguments
        guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
        return arguments[i + 1]
    }

    static func seconds(_ name: String, default value: Double) -> Double {
        option(name).flatMap(Double.init) ?? value
    }

    /// Runs the mode named on the command line, if any, and exits; returns when none is named.
    static func runIfRequested() {
        let arguments = CommandLine.arguments
        let mode: (() throws -> Void)?
        if arguments.contains("--queue-worker") { mode = work }
        else if arguments.contains("--queue-fill") { mode = fill }
        else if arguments.contains("--queue-report") { mode = report }
        else { mode = nil }
        guard let mode else { return }
        do {
            try mode()
            exit(0)
        } catch {
            FileHandle.standardError.write(Data("calib-bench: \(error)\n".utf8))
            exit(1)
        }
    }

    static func open() throws -> any JobQueue {
        guard let database = option("--database") else {
            throw PostgresFailure(message: "--database (a SQLite path or a postgresql:// URL) is required", sqlState: nil)
        }
        if PostgresLocation.isPostgresURL(database) { return try PostgresJobQueue(location: try PostgresLocation(url: database)) }
        return try CalibrationDatabase(path: database)
    }

    static func say(_ line: String) {
        // write(2) directly: no stdio buffer for a SIGKILL to lose.
        let bytes = Array((line + "\n").utf8)
        bytes.withUnsafeBufferPointer { buffer in
            var offset = 0
            while offset < buffer.count {
                let n = Glibc.write(1, buffer.baseAddress! + offset, buffer.count - offset)
                if n <= 0 { if errno == EINTR { continue } else { return } }
                offset += n
            }
        }
    }

    static var unixNow: String { String(format: "%.3f", Date().timeIntervalSince1970) }

    /// Queues `N` independent jobs (distinct setups, so none supersedes another) through `ensureJob`, on `T` threads.
    static func fill() throws {
        guard let count = option("--queue-fill").flatMap(Int.init), count > 0 else {
            throw PostgresFailure(message: "--queue-fill needs a positive job count", sqlState: nil)
        }
        let threads = max(1, option("--threads").flatMap(Int.init) ?? 4)
        let queues = try (0..<threads).map { _ in try open() }
        let next = Atomic<Int>(0)
        let failure = Mutex<String?>(nil)
        let group = DispatchGroup()
        let now = Date()
        for t in 0..<threads {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    while true {
                        let n = next.add(1, ordering: .relaxed).oldValue
                        guard n < count, failure.withLock({ $0 == nil }) else { break }
                        try queues[t].ensureJob(PlannedJob(
                            recipe: "queue-process", recipeVersion: "1", parameters: "{\"n\":\(n)}", instrument: "SIMECH",
                            night: "2027-01-14", setup: "n=\(n)", productType: .masterBias, inputs: []), now: now)
                    }
                } catch { failure.withLock { $0 = $0 ?? "\(error)" } }
            }.start()
        }
        group.wait()
        if let message = failure.withLock({ $0 }) { throw PostgresFailure(message: message, sqlState: nil) }
        say("filled \(count)")
    }

    static func work() throws {
        let queue = try open()
        let owner = option("--owner") ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
        let lease = seconds("--lease", default: 10)
        let heartbeat = seconds("--heartbeat", default: lease / 3)
        let hold = seconds("--hold", default: 0)
        let poll = seconds("--poll", default: 0.1)
        let idleExit = seconds("--idle-exit", default: 2)
        // A busy worker also sweeps now and then, so a dead peer's job does not wait for someone to idle.
        let sweepEvery = seconds("--sweep", default: 1)
        let oneCommit = !CommandLine.arguments.contains("--two-commits")
        // Connected: a test starting this worker before killing another knows it is polling.
        say("ready \(owner) \(unixNow)")
        var claimed = 0, completed = 0, fenced = 0
        var first: Double?, last: Double?
        var lastClaim = Date()
        var lastSweep = Date.distantPast
        // The job claimed together with the last completion, if any: run it before polling again.
        var claimedWithCompletion: JobRecord?
        while true {
            if Date().timeIntervalSince(lastSweep) >= sweepEvery {
                try queue.recoverLeases(now: Date(), owner: nil)
                lastSweep = Date()
            }
            let next = claimedWithCompletion
            claimedWithCompletion = nil
            guard let job = try next ?? queue.claimNextJob(owner: owner, lease: lease, now: Date()) else {
                if Date().timeIntervalSince(lastClaim) >= idleExit { break }
                try queue.recoverLeases(now: Date(), owner: nil)
                lastSweep = Date()
                Thread.sleep(forTimeInterval: poll)
                continue
            }
            lastClaim = Date()
            claimed += 1
            first = first ?? Date().timeIntervalSince1970
            let id = job.id!
            say("claimed \(id) \(job.attempts) \(unixNow)")
            // Heartbeats only while a job is held for a while; an instant job finishes inside its lease.
            let beating = Atomic<Bool>(true)
            let beats = DispatchGroup()
            if hold > 0 && job.attempts == 1 {
                if heartbeat > 0 {
                beats.enter()
                Thread {
                    defer { beats.leave() }
                    while beating.load(ordering: .relaxed) {
                        Thread.sleep(forTimeInterval: heartbeat)
                        guard beating.load(ordering: .relaxed) else { break }
                        do { try queue.heartbeat(job: job, lease: lease, now: Date()) } catch is LeaseLostError {
                            say("lease-lost \(id) \(job.attempts) \(unixNow)")
                            break
                        } catch {
                            say("heartbeat-error \(id) \(job.attempts) \(error)")
                        }
                    }
                }.start()
                }
                Thread.sleep(forTimeInterval: hold)
            }
            beating.store(false, ordering: .relaxed)
            beats.wait()
            do {
                if oneCommit {
                    // A refused completion throws and claims nothing: a fenced worker polls like an idle one.
                    claimedWithCompletion = try queue.completeAndClaimNext(job: job, outcome: .succeeded, products: [], owner: owner,
                                                                           lease: lease, now: Date()).next
                } else {
                    _ = try queue.complete(job: job, outcome: .succeeded, products: [], now: Date())
                }
                completed += 1
                last = Date().timeIntervalSince1970
                say("completed \(id) \(job.attempts) \(unixNow)")
            } catch is LeaseLostError {
                fenced += 1
                say("fenced \(id) \(job.attempts) \(unixNow)")
            }
        }
        say(String(format: "exit claimed=%d completed=%d fenced=%d first=%.3f last=%.3f",
                   claimed, completed, fenced, first ?? 0, last ?? 0))
    }

    /// Counts by state and by attempts: what "0 lost, 0 run twice" is checked against in the database.
    static func report() throws {
        let queue = try open()
        let jobs: [JobRecord]
        if let sqlite = queue as? CalibrationDatabase { jobs = try sqlite.jobs() }
        else if let postgres = queue as? PostgresJobQueue { jobs = try postgres.jobs() }
        else { jobs = [] }
        var states: [String: Int] = [:]
        var attempts: [Int: Int] = [:]
        for job in jobs {
            states[job.state.rawValue, default: 0] += 1
            attempts[job.attempts, default: 0] += 1
        }
        say("jobs \(jobs.count)")
        say("states " + states.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
        say("attempts " + attempts.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))
    }
}
