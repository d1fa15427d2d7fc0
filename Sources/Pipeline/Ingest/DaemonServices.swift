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
    /// Called after frames were recorded or found deleted: the planner has new work.
    let onFramesChanged: @Sendable () -> Void
    /// Called once the watches are in place and the startup scan is queued.
    let onWatching: @Sendable () -> Void

    public init(engine: CalibrationEngine, onFramesChanged: @escaping @Sendable () -> Void = {},
                onWatching: @escaping @Sendable () -> Void = {}) {
        self.engine = engine; self.onFramesChanged = onFramesChanged; self.onWatching = onWatching
    }

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
        onWatching()
        // The loop sleeps until a kernel event, the next moment a candidate may have
        // become stable, or the next reconciliation: idle, it wakes only for the last.
        let bell = Doorbell()
        let reconcile = Duration.seconds(settings.reconcileSeconds)

        try await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in watcher.events {
                        switch event {
                        case .fileReady(let path): await pending.takeNow(path)
                        case .directoryAdded: continue
                        case .overflow: await pending.requestRescan()
                        }
                        bell.ring()
                    }
                }
                group.addTask {
                    var lastReconcile = ContinuousClock.now
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        if await pending.takeRescanRequest() || ContinuousClock.now - lastReconcile >= reconcile {
                            lastReconcile = .now
                            let files = engine.filesUnderRoots()
                            do { try engine.noticeDeletedFrames(present: files) } catch {
                                logger.error("could not check for deleted frames", metadata: ["error": "\(error)"])
                            }
                            for path in files { await pending.watch(path) }
                            onFramesChanged()
                        }
                        let ready = await pending.ready()
                        for (final, paths) in [(false, ready.tentative), (true, ready.final)] where !paths.isEmpty {
                            do {
                                let outcomes = try await JobRunner.offload { try engine.ingester.ingest(batch: paths, final: final) }
                                var recorded = false
                                for (path, outcome) in zip(paths, outcomes) {
                                    switch outcome {
                                    case .deferred: await pending.watch(path, attempted: true)
                                    case .recorded(let frame):
                                        recorded = true
                                        engine.nightWatch.touch(frame: frame, path: path)
                                    default: break
                                    }
                                }
                                if recorded { onFramesChanged() }
                                faults.clear()
                            } catch {
                                let fault = EnvironmentalFault.classify(error, database: engine.database.displayLocation)
                                if fault.map({ faults.isNew($0) }) ?? true {
                                    logger.error("ingest failed; the files will be offered again", metadata: [
                                        "error": "\(fault.map { "\($0)" } ?? "\(error)")", "files": "\(paths.count)",
                                    ])
                                }
                                for path in paths { await pending.retryLater(path) }
                            }
                        }
                        if ready.isEmpty {
                            let deadline = min(ready.nextCheck ?? lastReconcile + reconcile, lastReconcile + reconcile)
                            guard await bell.wait(until: deadline) else { break }
                        }
                    }
                    watcher.stop()
                }
            }
        } onGracefulShutdown: {
            watcher.stop()
            bell.close()
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
        /// When a candidate still watched may next be ready: the caller sleeps until then.
        var nextCheck: ContinuousClock.Instant?
        var isEmpty: Bool { tentative.isEmpty && final.isEmpty }
    }

    func ready() -> Ready {
        var tentative = now
        var final: [String] = []
        var nextCheck: ContinuousClock.Instant?
        func check(at instant: ContinuousClock.Instant) { nextCheck = min(nextCheck ?? instant, instant) }
        now.removeAll()
        let instant = ContinuousClock.now
        for (path, var candidate) in watched {
            if let notBefore = candidate.notBefore, instant < notBefore { check(at: notBefore); continue }
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
                check(at: instant + stable)
                continue
            }
            let quiet = instant - candidate.unchangedSince
            if candidate.attempted {
                if quiet >= giveUp { final.append(path); watched.removeValue(forKey: path) } else { check(at: candidate.unchangedSince + giveUp) }
            } else if quiet >= stable {
                tentative.append(path)
                watched.removeValue(forKey: path)
            } else {
                check(at: candidate.unchangedSince + stable)
            }
        }
        return Ready(tentative: tentative.sorted(), final: final.sorted(), nextCheck: nextCheck)
    }

    func requestRescan() { rescan = true }

    func takeRescanRequest() -> Bool {
        defer { rescan = false }
        return rescan
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
