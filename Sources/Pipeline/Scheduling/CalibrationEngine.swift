import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging
import Synchronization

/// The daemon's engine, shared by the long-running services and `--once`:
/// recovery after a crash, scanning, planning and running jobs.
public final class CalibrationEngine: Sendable {
    public let configuration: CalibdConfiguration
    public let database: any CalibrationRegistry
    public let logger: Logger
    /// Who holds leases: host, process id and start time, unique per daemon run.
    public let owner: String
    public let ingester: FrameIngester
    /// Plans new jobs with the configuration in force: the one at start, or
    /// the last one a reload (SIGHUP) adopted. Running jobs keep theirs.
    public var planner: JobPlanner { currentPlanner.withLock { $0 } }
    private let currentPlanner: Mutex<JobPlanner>
    public let runner: JobRunner
    /// Set when files are read and recipes run in worker processes (the
    /// daemon and `calibd --once`); nil runs them in this process (tests, benchmarks).
    public let isolation: IsolatedJobRunner?
    /// Logs each night's verdict when it settles, writes its report and the monitoring file.
    public let nightWatch: NightWatch

    /// - Parameter workers: how to start worker processes; with it, a file or a
    ///   recipe that crashes ends a worker, not this process. Without it,
    ///   everything runs in this process.
    public init(configuration: CalibdConfiguration, logger: Logger, workers launcher: WorkerLauncher? = nil) throws {
        self.configuration = configuration
        self.logger = logger
        for directory in [configuration.workspace, configuration.productsDirectory, configuration.logsDirectory] {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        database = try RegistryOpener.open(configuration, logger: logger)
        try WorkspacePermissions(configuration: configuration).apply()
        owner = "\(ProcessInfo.processInfo.hostName)/\(getpid())/\(Int(Date().timeIntervalSince1970))"
        var ingester = FrameIngester(configuration: configuration, database: database, logger: logger)
        ingester.isolation = launcher.map { IsolatedExaminer(launcher: $0, logger: logger) }
        self.ingester = ingester
        currentPlanner = Mutex(JobPlanner(configuration: configuration, database: database, logger: logger))
        let runner = JobRunner(configuration: configuration, database: database, logger: logger)
        self.runner = runner
        isolation = launcher.map { IsolatedJobRunner(launcher: $0, runner: runner) }
        nightWatch = NightWatch(configuration: configuration, database: database, logger: logger)
    }

    /// Plans new jobs with `configuration` from now on (a reload). The
    /// roots, workspace and worker count stay those of the start.
    public func adopt(_ configuration: CalibdConfiguration) {
        let planner = JobPlanner(configuration: configuration, database: database, logger: logger)
        currentPlanner.withLock { $0 = planner }
    }

    /// Runs one claimed job: in a worker process when isolated, else here.
    @discardableResult
    public func run(_ job: JobRecord) async -> JobState {
        if let isolation { return await isolation.run(job) }
        return await runner.run(job)
    }

    /// Stops the worker processes this engine keeps (the file reader).
    public func stopWorkers() {
        ingester.isolation?.stop()
    }

    /// After a crash: re-queues jobs whose daemon is gone (or fails them,
    /// once their attempts reach the cap) and removes half-written product
    /// files. Only at start: while this daemon runs, a temporary file may be a
    /// product being written.
    @discardableResult
    public func recoverAfterRestart() throws -> (requeued: Int, orphansRemoved: Int) {
        let recovered = try recoverAbandonedJobs()
        let orphans = ProductWriter.removeOrphans(under: configuration.productsDirectory)
        if recovered.requeued + recovered.failed > 0 || orphans > 0 {
            logger.notice("recovered after restart", metadata: [
                "jobs.requeued": "\(recovered.requeued)", "jobs.failed": "\(recovered.failed)", "orphans.removed": "\(orphans)",
            ])
        }
        return (recovered.requeued, orphans)
    }

    /// Re-queues jobs whose lease lapsed, and at once those held by a dead
    /// process on this host (no need to wait for the lease to lapse). Each
    /// counts as a crashed attempt: past `max_attempts` the job fails for good
    /// with the reason. This daemon's own jobs are never taken: it knows
    /// whether their workers live and records their end itself.
    @discardableResult
    public func recoverLeases() throws -> Int {
        let recovered = try recoverAbandonedJobs()
        return recovered.requeued + recovered.failed
    }

    func recoverAbandonedJobs() throws -> (requeued: Int, failed: Int) {
        let host = ProcessInfo.processInfo.hostName
        var dead: Set<String> = []
        for job in try database.jobs(states: [.running]) {
            guard let holder = job.leaseOwner, holder != owner else { continue }
            let parts = holder.split(separator: "/")
            if parts.count == 3, parts[0] == host, let pid = Int32(parts[1]), kill(pid, 0) != 0 || pid == getpid() {
                dead.insert(holder)
            }
        }
        let recovered = try database.recoverAbandonedJobs(deadOwners: dead, excluding: owner)
        if recovered.failed > 0 {
            logger.error("jobs failed for good: their process died during every allowed attempt", metadata: ["jobs": "\(recovered.failed)"])
        }
        return recovered
    }

    /// Every file under the watched roots, in a stable order. Symbolic links
    /// to files are included (the ingester resolves them); links to
    /// directories are not followed, so a loop cannot trap the scan.
    public func filesUnderRoots() -> [String] {
        var files: [String] = []
        // Every entry but directories: FIFOs, sockets and devices are offered too, so that they
        // are recorded as problems rather than silently passed over. Names that are not UTF-8
        // arrive escaped (RawFileName). Directories are entered only when real, never through links.
        func walk(_ directory: String) {
            guard let names = RawFileName.entries(of: directory) else { return }
            for name in names {
                let path = (directory as NSString).appendingPathComponent(name)
                var st = stat()
                if lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR {
                    walk(path)
                } else {
                    files.append(path)
                }
            }
        }
        for root in configuration.watch { walk(root) }
        return files.sorted()
    }

    public struct ScanReport: Sendable {
        public var recorded = 0
        public var problems = 0
        public var aliases = 0
        public var unchanged = 0
        public var ignored = 0
        public var deferred: [String: Date] = [:]
    }

    /// Offers every file under the roots to the ingester (the reconciliation scan).
    public func scan(final: Bool, now: Date = Date(), progress: (Int, Int) -> Void = { _, _ in }) throws -> ScanReport {
        var report = ScanReport()
        let files = filesUnderRoots()
        try noticeDeletedFrames(present: files)
        var done = 0
        // Batches: one database commit per 256 files rather than per file.
        for start in stride(from: 0, to: files.count, by: 256) {
            let batch = Array(files[start..<min(start + 256, files.count)])
            for (path, outcome) in zip(batch, try ingester.ingest(batch: batch, now: now, final: final)) {
                tally(outcome, path: path, into: &report)
                done += 1
                progress(done, files.count)
            }
        }
        return report
    }

    /// Marks the usable frames whose every recorded path under the roots is missing from a
    /// scan's listing `present` (and still absent when looked at again) as deleted.
    public func noticeDeletedFrames(present: [String]) throws {
        let listed = Set(present)
        let missing = try database.recordedPaths(under: configuration.watch).filter { !listed.contains($0) }
        guard !missing.isEmpty else { return }
        let marked = try database.markDeleted(paths: missing, exists: { path in
            var info = stat()
            return lstat(path, &info) == 0 || RawFileName.bytes(ofEscapedPath: path).map { RawFileName.lstat(bytes: $0, &info) } == true
        })
        for id in marked { logger.warning("recorded frame deleted from disk", metadata: ["frame.id": "\(id)"]) }
    }

    func tally(_ outcome: IngestOutcome, path: String, into report: inout ScanReport) {
        switch outcome {
        case .recorded(let frame): if frame.status == .ok { report.recorded += 1 } else { report.problems += 1 }
        case .alias: report.aliases += 1
        case .unchanged: report.unchanged += 1
        case .ignored: report.ignored += 1
        case .deferred(_, let retryAt): report.deferred[path] = retryAt
        }
    }

    /// Claims and runs queued jobs, up to `workers` at a time, until none is
    /// runnable. Returns how many ran.
    public func runQueuedJobs(shouldContinue: @escaping @Sendable () -> Bool = { true },
                              onClaimed: @escaping @Sendable (JobRecord) -> Void = { _ in },
                              onFinished: @escaping @Sendable () -> Void = {}) async -> Int {
        let workers = configuration.workers
        return await withTaskGroup(of: Int.self) { group in
            for _ in 0..<workers {
                group.addTask { [self] in
                    var ran = 0
                    while shouldContinue(), let job = try? database.claimNextJob(owner: owner, lease: runner.leaseSeconds) {
                        onClaimed(job)
                        await run(job)
                        onFinished()
                        ran += 1
                    }
                    return ran
                }
            }
            return await group.reduce(0, +)
        }
    }

    /// `calibd --role reduce --drain`: plans and runs jobs until none is left —
    /// nothing queued or running (by any process on this database), no input set
    /// still settling — and returns the ids of the jobs this process ran, in order.
    /// Records no frames (the ingest role does), so several drains can share
    /// one database as the tasks of a batch system's job array.
    ///
    /// Unlike `runBatch`, input sets complete by the configured `settleSeconds`
    /// (another process may still be recording tonight's frames), half-written
    /// products are not swept (another drain may be writing them), and a job
    /// another process holds is waited for — its products may unlock dependants
    /// here — or taken over once its lease lapses.
    ///
    /// Planning is proportional to what changed: a whole pass reads every frame and checks
    /// every input set of the archive, so between whole passes a drain plans only the nights
    /// where a job changed state (by any process) since its last pass began — a job ending is
    /// what lets a night's dependants be planned. A whole pass runs at the start, when the
    /// number of recorded frames changes, when the last whole pass's earliest settling set
    /// may be complete, at least every `fullPlanSeconds`, and before exiting: a drain exits
    /// only after a whole pass that found nothing to do, as before, so it ends where
    /// planning everything every time would.
    /// - Parameters:
    ///   - pollSeconds: how often an idle drain looks again (seconds).
    ///   - fullPlanSeconds: the longest time between two whole passes (seconds); they also
    ///     catch a night unlocked by another night's product (association may borrow one).
    public func drain(pollSeconds: Double = 1, fullPlanSeconds: Double = 60) async throws -> [Int64] {
        let ran = Mutex<[Int64]>([])
        // nil: the next pass plans every night.
        var dirty: Set<String>? = nil
        var lastFull = Date.distantPast
        var fullRecheckAt: Date? = nil
        var framesSeen = -1
        // Jobs updated since this instant make their nights dirty. A margin, since another
        // host's clock stamps its jobs (the lease margin is the same kind of allowance).
        let clockMargin = 5.0
        var since = Date()
        while true {
            let passStart = Date()
            let frames = try database.frameCount()
            if frames != framesSeen || passStart.timeIntervalSince(lastFull) >= fullPlanSeconds
                || fullRecheckAt.map({ $0 <= passStart }) == true {
                dirty = nil
            }
            let report = try planner.plan(nights: dirty)
            logger.debug("drain planned", metadata: [
                "nights": "\(dirty.map { "\($0.count)" } ?? "all")", "jobs.created": "\(report.created.count)",
                "seconds": "\(String(format: "%.3f", Date().timeIntervalSince(passStart)))",
            ])
            if dirty == nil {
                lastFull = passStart; fullRecheckAt = report.recheckAt; framesSeen = frames
            }
            let wasFull = dirty == nil
            let count = await runQueuedJobs(onClaimed: { job in ran.withLock { if !$0.contains(job.id!) { $0.append(job.id!) } } })
            let changed = try database.jobs().filter { $0.updatedAt.timeIntervalSince(since) >= -clockMargin }
            since = passStart
            dirty = Set(changed.map(\.night))
            guard report.created.isEmpty && count == 0 else { continue }
            try recoverLeases()
            let queued = try database.jobs(states: [.queued])
            let running = try database.jobs(states: [.running])
            if queued.isEmpty && running.isEmpty && report.recheckAt == nil {
                // Only a whole pass that found nothing ends the drain.
                if wasFull { break }
                dirty = nil
                continue
            }
            // A back-off, a settling set or another process's job: look again when the first may have moved.
            let next = (queued.compactMap(\.notBefore) + [report.recheckAt, fullRecheckAt].compactMap { $0 }).min()
            let wait = min(max(next?.timeIntervalSinceNow ?? pollSeconds, 0.05), pollSeconds)
            try await Task.sleep(for: .seconds(wait))
        }
        return ran.withLock { $0 }
    }

    /// Where a batch run is, for a progress line on a terminal.
    public enum BatchProgress: Sendable {
        case ingest(done: Int, total: Int)
        case jobs(done: Int, total: Int)
    }

    final class JobCounter: @unchecked Sendable {
        private let lock = NSLock()
        private var value = 0
        func increment() -> Int { lock.withLock { value += 1; return value } }
        func reset() { lock.withLock { value = 0 } }
    }

    public struct BatchSummary: Sendable {
        public var scan: ScanReport
        public var jobsRun: Int
        public var waiting: [JobPlanner.Waiting]
    }

    /// `calibd --once`: take every file present, run every job whose inputs
    /// are complete (in dependency order, as products unlock their
    /// dependants), and stop.
    public func runBatch(progress: @escaping @Sendable (BatchProgress) -> Void = { _ in }) async throws -> BatchSummary {
        try recoverAfterRestart()
        let scan = try scan(final: true) { done, total in progress(.ingest(done: done, total: total)) }
        // No file is read after this scan: end the reader process now rather than at exit. Idle, it
        // still held ~46 MB resident (the Swift runtime and Foundation, mapped again in each
        // process) beside the recipe processes, a sixth of the whole tree's peak on Kast.
        stopWorkers()
        var jobsRun = 0
        var waiting: [JobPlanner.Waiting] = []
        let counter = JobCounter()
        while true {
            let report = try planner.plan(settleSeconds: 0)
            waiting = report.waiting
            let queued = try database.jobs(states: [.queued]).count
            let base = jobsRun
            let ran = await runQueuedJobs(onFinished: {
                let done = counter.increment()
                progress(.jobs(done: base + done, total: base + queued))
            })
            counter.reset()
            jobsRun += ran
            if report.created.isEmpty && ran == 0 {
                // Retries waiting out a back-off (after a crash or a full disk) belong to this run too.
                let retries = try database.jobs(states: [.queued]).compactMap(\.notBefore)
                guard let next = retries.min() else { break }
                try await Task.sleep(for: .seconds(min(max(next.timeIntervalSinceNow, 0.1), 60)))
            }
        }
        return BatchSummary(scan: scan, jobsRun: jobsRun, waiting: waiting)
    }
}
