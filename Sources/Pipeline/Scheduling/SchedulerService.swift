import CalibCore
import CalibDB
import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// Plans jobs from recorded frames and runs them on `workers` workers, until
/// a graceful shutdown: then it stops claiming, lets running jobs finish and
/// returns.
///
/// Nothing polls. The planner sleeps until it is rung — frames recorded (the
/// ingest service), a job finished, a `calibctl` request (the wake file,
/// `DaemonWakeFile`), jobs recovered from a dead daemon — or until its timer:
/// the earliest queued retry (`not_before`, after a crash or a full disk) or
/// the moment a waiting input set settles. Each pass rings the workers, which
/// claim until nothing is runnable and then sleep. A slow timer writes the
/// heartbeat `calibctl status` reads (every `heartbeatInterval`, and status
/// calls a daemon alive while the heartbeat is younger than 10 s: three
/// missed beats), recovers lapsed leases, and sends systemd's watchdog ping.
public struct SchedulerService: Service {
    let engine: CalibrationEngine
    let notifier: SystemdNotifier
    let heartbeatInterval: Duration
    let planBell = Doorbell()
    let activity = Activity()

    /// How often lapsed leases of other daemons are looked for.
    static let recoveryInterval: Duration = .seconds(10)
    /// The longest the planner sleeps: a request whose wake-up was lost (a
    /// `calibctl` without permission to ring) is still acted on within this.
    static let longestSleep: Duration = .seconds(60)
    /// A planning pass that takes longer than this is taken as wedged: the
    /// watchdog ping is withheld and systemd restarts the daemon.
    static let wedgedAfter: Duration = .seconds(120)

    public init(engine: CalibrationEngine, notifier: SystemdNotifier = SystemdNotifier(), heartbeatInterval: Duration = .seconds(3)) {
        self.engine = engine
        self.notifier = notifier
        // systemd wants a ping within WATCHDOG_USEC; send at half of it, as sd_watchdog_enabled(3) advises.
        self.heartbeatInterval = notifier.watchdogTimeout.map { min(heartbeatInterval, $0 / 2) } ?? heartbeatInterval
    }

    /// Asks for a planning pass soon (frames recorded, configuration reloaded).
    public func wake() { planBell.ring() }

    /// Jobs that were running when the graceful stop began and finished after it.
    public var jobsDrained: Int { activity.drained }

    /// Called once the control watch and the loops run (with the ingest
    /// service's, it makes systemd's READY=1).
    public var onRunning: @Sendable () -> Void = {}

    public func run() async throws {
        let database = engine.database
        let logger = engine.logger
        try database.setDaemonState("owner", engine.owner)
        try database.setDaemonState("started_at", String(Date().timeIntervalSince1970))
        try database.setDaemonState("watch", engine.configuration.watch.joined(separator: "\n"))
        // A server database has no file to vanish under the daemon; only SQLite's is watched.
        let identity = RegistryOpener.isServer(engine.configuration.database)
            ? nil : WorkspaceIdentity(path: engine.configuration.database)
        let wakeFile = DaemonWakeFile(workspace: engine.configuration.workspace)
        try wakeFile.prepare()
        let control = try DirectoryWatcher(roots: [wakeFile.directory], logger: logger)
        try control.start()
        let workerBells = (0..<engine.configuration.workers).map { _ in Doorbell() }
        let heartbeatBell = Doorbell()
        let planBell = planBell, activity = activity, notifier = notifier, heartbeatInterval = heartbeatInterval

        try await withGracefulShutdownHandler {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await _ in control.events { planBell.ring() }
                }
                group.addTask {
                    var lastRecovery = ContinuousClock.now
                    repeat {
                        // The database file must be the one we opened: if the workspace was
                        // removed, writes would go to an unlinked file and be lost at exit.
                        guard identity?.isIntact ?? true else { throw WorkspaceLostError(path: engine.configuration.database) }
                        do {
                            try database.setDaemonState("heartbeat", String(Date().timeIntervalSince1970))
                            if ContinuousClock.now - lastRecovery >= Self.recoveryInterval {
                                lastRecovery = .now
                                if try engine.recoverLeases() > 0 { planBell.ring() }
                            }
                            if !activity.isWedged(after: Self.wedgedAfter) { notifier.watchdog() }
                        } catch {
                            logger.error("could not write the heartbeat or recover leases; retrying at the next beat", metadata: ["error": "\(error)"])
                        }
                    } while await heartbeatBell.wait(until: .now + heartbeatInterval)
                }
                group.addTask {
                    var deadline: ContinuousClock.Instant?
                    while await planBell.wait(until: min(deadline ?? .now + Self.longestSleep, .now + Self.longestSleep)) {
                        deadline = nil
                        activity.planningStarted()
                        do {
                            if try !database.isPaused() {
                                let report = try engine.planner.plan()
                                deadline = try Self.nextTimer(report: report, database: database)
                            }
                        } catch {
                            logger.error("planning failed; retrying in 1 s", metadata: ["error": "\(error)"])
                            deadline = .now + .seconds(1)
                        }
                        activity.planningEnded()
                        // Nights whose work is done get their one verdict line and their report.
                        engine.nightWatch.update(onlyTouched: true)
                        if notifier.isActive { notifier.status(activity.statusLine(queued: (try? database.jobs(states: [.queued]).count) ?? 0)) }
                        for bell in workerBells { bell.ring() }
                    }
                }
                for bell in workerBells {
                    group.addTask {
                        var retry: ContinuousClock.Instant?
                        while await bell.wait(until: retry) {
                            retry = nil
                            while !Task.isShuttingDownGracefully && !Task.isCancelled {
                                let job: JobRecord?
                                do {
                                    job = try database.isPaused() ? nil : try database.claimNextJob(owner: engine.owner, lease: engine.runner.leaseSeconds)
                                } catch {
                                    logger.error("could not claim a job; retrying in 1 s", metadata: ["error": "\(error)"])
                                    retry = .now + .seconds(1)
                                    break
                                }
                                guard let job else { break }
                                activity.jobStarted()
                                if notifier.isActive { notifier.status(activity.statusLine(queued: (try? database.jobs(states: [.queued]).count) ?? 0)) }
                                let state = await engine.run(job)
                                activity.jobEnded()
                                engine.nightWatch.touch(night: job.night)
                                if state == .qcFailed {
                                    logger.warning("job failed QC", metadata: [
                                        "job.id": "\(job.id!)", "job.recipe": "\(job.recipe)", "night": "\(job.night)", "setup": "\(job.setup)",
                                    ])
                                }
                                // Its product may unlock dependants, its retry may need a timer.
                                planBell.ring()
                            }
                        }
                    }
                }
                planBell.ring()
                onRunning()
                // next() rethrows a child's error at once (waitForAll would wait for the
                // endless loops); leaving the group then cancels the others.
                while try await group.next() != nil {}
            }
        } onGracefulShutdown: {
            let running = activity.beginDraining()
            logger.info("stopping: no new jobs are claimed; waiting for the running ones to finish", metadata: ["jobs.running": "\(running)"])
            notifier.stopping(status: running == 0 ? "stopping" : "stopping; waiting for \(running) running job\(running == 1 ? "" : "s")")
            control.stop()
            planBell.close()
            heartbeatBell.close()
            for bell in workerBells { bell.close() }
        }
        try? database.setDaemonState("stopped_at", String(Date().timeIntervalSince1970))
    }

    /// The earliest moment planning may find something new without being rung:
    /// a queued retry's `not_before`, or a waiting input set settling.
    static func nextTimer(report: JobPlanner.Report, database: any CalibrationRegistry) throws -> ContinuousClock.Instant? {
        let now = Date()
        let retries = try database.jobs(states: [.queued]).compactMap(\.notBefore).filter { $0 > now }
        guard let next = (retries + [report.recheckAt].compactMap { $0 }).min() else { return nil }
        // A little after, so that the claim's `not_before <= now` holds when the timer fires.
        return .now + .milliseconds(Int64(max(next.timeIntervalSince(now), 0) * 1000) + 20)
    }

    /// What the scheduler is doing, shared by its loops: for systemd's STATUS=
    /// line, the shutdown log and the watchdog.
    final class Activity: Sendable {
        private struct State {
            var running = 0
            var planningSince: ContinuousClock.Instant?
            var draining = false
            var drained = 0
        }
        private let state = Mutex(State())

        var running: Int { state.withLock { $0.running } }
        func jobStarted() { state.withLock { $0.running += 1 } }
        func jobEnded() {
            state.withLock {
                $0.running -= 1
                if $0.draining { $0.drained += 1 }
            }
        }
        var drained: Int { state.withLock { $0.drained } }
        /// Returns the jobs running now, which the stop waits for.
        func beginDraining() -> Int { state.withLock { $0.draining = true; return $0.running } }
        func planningStarted() { state.withLock { $0.planningSince = .now } }
        func planningEnded() { state.withLock { $0.planningSince = nil } }

        func isWedged(after limit: Duration) -> Bool {
            state.withLock { $0.planningSince.map { ContinuousClock.now - $0 > limit } ?? false }
        }

        func statusLine(queued: Int) -> String {
            let running = self.running
            return running == 0 ? "idle; \(queued) queued" : "running \(running) job\(running == 1 ? "" : "s"), \(queued) queued"
        }
    }
}
