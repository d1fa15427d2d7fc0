import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging
import ServiceLifecycle

/// Watches the raw roots and ingests files once they are complete.
///
/// Three sources of candidates, so that nothing is missed: kernel events
/// (closed after writing, moved in, new directories), a full scan at start,
/// and a reconciliation scan every `reconcileSeconds` (and after a kernel
/// queue overflow). A file the kernel reports closed is taken at once when
/// its FITS structure is complete; a file found by a scan is taken once its
/// size and modification time have stayed the same for `stableSeconds` of
/// the monotonic clock (so a wall-clock jump cannot hold files back or let a
/// file being written through). A database error never drops a file: it is
/// offered again a second later.
public struct IngestService: Service {
    let engine: CalibrationEngine

    public init(engine: CalibrationEngine) { self.engine = engine }

    public func run() async throws {
        let settings = engine.configuration.ingest
        let logger = engine.logger
        let watcher = try DirectoryWatcher(roots: engine.configuration.watch, logger: logger)
        try watcher.start()
        logger.info("watching", metadata: ["roots": "\(engine.configuration.watch)", "directories": "\(watcher.watchedDirectoryCount)"])
        let pending = PendingFiles(stable: .seconds(settings.stableSeconds), giveUp: .seconds(settings.giveUpSeconds))
        // A database locked for minutes is logged once, with its remedy, not every second.
        let faults = FaultNoticeBoard()
        for path in engine.filesUnderRoots() { await pending.watch(path) }

        try await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in watcher.events {
                        switch event {
                        case .fileReady(let path): await pending.takeNow(path)
                        case .directoryAdded: break
                        case .overflow: await pending.requestRescan()
                        }
                    }
                }
                group.addTask {
                    var lastReconcile = ContinuousClock.now
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        if await pending.takeRescanRequest() || ContinuousClock.now - lastReconcile >= .seconds(settings.reconcileSeconds) {
                            lastReconcile = .now
                            let files = engine.filesUnderRoots()
                            do { try engine.noticeDeletedFrames(present: files) } catch {
                                logger.error("could not check for deleted frames", metadata: ["error": "\(error)"])
                            }
                            for path in files { await pending.watch(path) }
                        }
                        let ready = await pending.ready()
                        for (final, paths) in [(false, ready.tentative), (true, ready.final)] where !paths.isEmpty {
                            do {
                                let outcomes = try await JobRunner.offload { try engine.ingester.ingest(batch: paths, final: final) }
                                for (path, outcome) in zip(paths, outcomes) {
                                    if case .deferred = outcome { await pending.watch(path, attempted: true) }
                                }
                                faults.clear()
                            } catch {
                                let fault = EnvironmentalFault.classify(error, database: engine.configuration.database)
                                if fault.map({ faults.isNew($0) }) ?? true {
                                    logger.error("ingest failed; the files will be offered again", metadata: [
                                        "error": "\(fault.map { "\($0)" } ?? "\(error)")", "files": "\(paths.count)",
                                    ])
                                }
                                for path in paths { await pending.retryLater(path) }
                            }
                        }
                        if ready.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
                    }
                    watcher.stop()
                }
            }
        } onGracefulShutdown: {
            watcher.stop()
        }
    }
}

/// Candidate files and what is known of them, on the monotonic clock.
actor PendingFiles {
    private struct Candidate {
        var size: Int64 = -1
        var mtime: Double = -1
        var unchangedSince: ContinuousClock.Instant = .now
        /// Tried at this (size, mtime) and deferred: wait for `giveUp` before taking it as it is.
        var attempted = false
        var notBefore: ContinuousClock.Instant?
    }

    private let stable: Duration
    private let giveUp: Duration
    private var now: [String] = []
    private var watched: [String: Candidate] = [:]
    private var rescan = false

    init(stable: Duration, giveUp: Duration) {
        self.stable = stable; self.giveUp = giveUp
    }

    /// The kernel says the file was closed after writing or moved in: try it now.
    func takeNow(_ path: String) {
        watched.removeValue(forKey: path)
        if !now.contains(path) { now.append(path) }
    }

    /// Keep an eye on the file until it has been stable long enough.
    func watch(_ path: String, attempted: Bool = false) {
        if var existing = watched[path] {
            existing.attempted = existing.attempted || attempted
            watched[path] = existing
            return
        }
        var candidate = Candidate(attempted: attempted)
        if attempted {
            // Deferred as it is now: remember now's size and time, so that only a
            // change restarts the wait and an unchanged file is given up on.
            var st = stat()
            if stat(path, &st) == 0 {
                candidate.size = Int64(st.st_size)
                candidate.mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            }
        }
        watched[path] = candidate
    }

    func retryLater(_ path: String) {
        var candidate = watched[path] ?? Candidate()
        candidate.notBefore = .now + .seconds(1)
        watched[path] = candidate
    }

    struct Ready {
        var tentative: [String]
        var final: [String]
        var isEmpty: Bool { tentative.isEmpty && final.isEmpty }
    }

    func ready() -> Ready {
        var tentative = now
        var final: [String] = []
        now.removeAll()
        let instant = ContinuousClock.now
        for (path, var candidate) in watched {
            if let notBefore = candidate.notBefore, instant < notBefore { continue }
            var st = stat()
            guard stat(path, &st) == 0 else {
                watched.removeValue(forKey: path)  // gone (or a dangling link: the ingester records it)
                tentative.append(path)
                continue
            }
            let size = Int64(st.st_size)
            let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            if size != candidate.size || mtime != candidate.mtime {
                candidate = Candidate(size: size, mtime: mtime, unchangedSince: instant, attempted: false)
                watched[path] = candidate
                continue
            }
            let quiet = instant - candidate.unchangedSince
            if candidate.attempted {
                if quiet >= giveUp { final.append(path); watched.removeValue(forKey: path) }
            } else if quiet >= stable {
                tentative.append(path)
                watched.removeValue(forKey: path)
            }
        }
        return Ready(tentative: tentative.sorted(), final: final.sorted())
    }

    func requestRescan() { rescan = true }

    func takeRescanRequest() -> Bool {
        defer { rescan = false }
        return rescan
    }
}

/// Plans jobs from recorded frames and runs them on `workers` workers, until
/// a graceful shutdown: then it stops claiming, lets running jobs finish and
/// returns.
public struct SchedulerService: Service {
    let engine: CalibrationEngine
    let pollInterval: Duration

    public init(engine: CalibrationEngine, pollInterval: Duration = .milliseconds(250)) {
        self.engine = engine; self.pollInterval = pollInterval
    }

    public func run() async throws {
        let database = engine.database
        try database.setDaemonState("owner", engine.owner)
        try database.setDaemonState("started_at", String(Date().timeIntervalSince1970))
        try database.setDaemonState("watch", engine.configuration.watch.joined(separator: "\n"))
        let identity = WorkspaceIdentity(path: engine.configuration.database)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                var lastRecovery = ContinuousClock.now
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    // The database file must be the one we opened: if the workspace was
                    // removed, writes would go to an unlinked file and be lost at exit.
                    guard identity.isIntact else { throw WorkspaceLostError(path: engine.configuration.database) }
                    do {
                        try database.setDaemonState("heartbeat", String(Date().timeIntervalSince1970))
                        if ContinuousClock.now - lastRecovery > .seconds(10) {
                            lastRecovery = .now
                            try engine.recoverLeases()
                        }
                        if try !database.isPaused() { _ = try engine.planner.plan() }
                    } catch {
                        engine.logger.error("planning failed; retrying", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: pollInterval)
                }
            }
            for _ in 0..<engine.configuration.workers {
                group.addTask {
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        let job: JobRecord?
                        do {
                            job = try database.isPaused() ? nil : try database.claimNextJob(owner: engine.owner, lease: engine.runner.leaseSeconds)
                        } catch {
                            engine.logger.error("could not claim a job; retrying", metadata: ["error": "\(error)"])
                            job = nil
                        }
                        if let job { await engine.run(job) } else { try? await Task.sleep(for: pollInterval) }
                    }
                }
            }
            // next() rethrows a child's error at once (waitForAll would wait for the
            // endless worker loops); leaving the group then cancels the others.
            while try await group.next() != nil {}
        }
        try? database.setDaemonState("stopped_at", String(Date().timeIntervalSince1970))
    }
}

/// The database file as opened: device and inode.
struct WorkspaceIdentity: Sendable {
    let path: String
    let device: UInt64
    let inode: UInt64

    init(path: String) {
        self.path = path
        var st = stat()
        _ = stat(path, &st)
        device = UInt64(st.st_dev)
        inode = UInt64(st.st_ino)
    }

    var isIntact: Bool {
        var st = stat()
        return stat(path, &st) == 0 && UInt64(st.st_dev) == device && UInt64(st.st_ino) == inode
    }
}

/// The workspace (and the database in it) disappeared under the daemon.
public struct WorkspaceLostError: Error, CustomStringConvertible {
    public let path: String
    public var description: String {
        "the calibration database \(path) was removed or replaced while calibd ran; stopping so that nothing is written "
            + "to a deleted file. Restore the workspace (or let it be recreated) and start calibd again: raw frames are rescanned."
    }
}
