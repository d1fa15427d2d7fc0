import CalibCore
import CalibDB
import Foundation
import Logging
import ServiceLifecycle

/// Watches the raw roots and ingests files once they are complete.
///
/// Three sources of candidates, so that nothing is missed: kernel events
/// (closed after writing, moved in, new directories), a full scan at start,
/// and a reconciliation scan every `reconcileSeconds` (and after a kernel
/// queue overflow). Files that may still be written are retried when their
/// stability deadline passes.
public struct IngestService: Service {
    let engine: CalibrationEngine

    public init(engine: CalibrationEngine) { self.engine = engine }

    public func run() async throws {
        let settings = engine.configuration.ingest
        let logger = engine.logger
        let watcher = try DirectoryWatcher(roots: engine.configuration.watch, logger: logger)
        try watcher.start()
        logger.info("watching", metadata: ["roots": "\(engine.configuration.watch)", "directories": "\(watcher.watchedDirectoryCount)"])
        let pending = PendingFiles()
        for path in engine.filesUnderRoots() { await pending.offer(path, at: .distantPast) }

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await event in watcher.events {
                        switch event {
                        case .fileReady(let path): await pending.offer(path, at: .distantPast)
                        case .directoryAdded: break
                        case .overflow: await pending.requestRescan()
                        }
                    }
                }
                group.addTask {
                    var lastReconcile = Date()
                    while !Task.isCancelled && !Task.isShuttingDownGracefully {
                        if await pending.takeRescanRequest() || Date().timeIntervalSince(lastReconcile) >= settings.reconcileSeconds {
                            lastReconcile = Date()
                            for path in engine.filesUnderRoots() { await pending.offer(path, at: .distantPast) }
                        }
                        let due = await pending.takeDue(now: Date())
                        for path in due {
                            let outcome = try await JobRunner.offload { try engine.ingester.ingest(path: path) }
                            if case .deferred(_, let retryAt) = outcome { await pending.offer(path, at: retryAt) }
                        }
                        if due.isEmpty { try? await Task.sleep(for: .milliseconds(50)) }
                    }
                    watcher.stop()
                }
                try await group.waitForAll()
            }
        } onGracefulShutdown: {
            watcher.stop()
        }
    }
}

/// Candidate paths and when each may next be tried.
actor PendingFiles {
    private var due: [String: Date] = [:]
    private var rescan = false

    func offer(_ path: String, at date: Date) {
        // A fresh event moves a retry earlier, never later.
        if let existing = due[path], existing <= date { return }
        due[path] = date
    }

    func takeDue(now: Date) -> [String] {
        let ready = due.filter { $0.value <= now }.map(\.key).sorted()
        for path in ready { due.removeValue(forKey: path) }
        return ready
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
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                while !Task.isShuttingDownGracefully && !Task.isCancelled {
                    do {
                        try database.setDaemonState("heartbeat", String(Date().timeIntervalSince1970))
                        if try !database.isPaused() { _ = try engine.planner.plan() }
                    } catch {
                        engine.logger.error("planning failed", metadata: ["error": "\(error)"])
                    }
                    try? await Task.sleep(for: pollInterval)
                }
            }
            for _ in 0..<engine.configuration.workers {
                group.addTask {
                    while !Task.isShuttingDownGracefully && !Task.isCancelled {
                        let job = (try? database.isPaused()) == true
                            ? nil : (try? database.claimNextJob(owner: engine.owner, lease: engine.runner.leaseSeconds))
                        if let job { await engine.runner.run(job) } else { try? await Task.sleep(for: pollInterval) }
                    }
                }
            }
        }
        try? database.setDaemonState("stopped_at", String(Date().timeIntervalSince1970))
    }
}
