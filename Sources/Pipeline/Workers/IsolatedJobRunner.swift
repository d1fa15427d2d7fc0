import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging

/// Runs each claimed attempt in its own process (`calibd worker run-job`),
/// so that a recipe that traps, crashes a C library or is killed for its
/// memory ends that process, not the daemon.
///
/// The claim (and with it the attempt count) is committed by the daemon
/// before the process starts. The process records its own outcome; when it
/// dies without one, the daemon records the crash against the attempt
/// ("recipe process crashed: signal 4 (SIGILL, a Swift runtime trap)"), and
/// once attempts reach `max_attempts` the job fails for good with "crashed N
/// times: …", which the planner then gives as the reason its dependants wait.
public struct IsolatedJobRunner: Sendable {
    public let launcher: WorkerLauncher
    public let runner: JobRunner

    public init(launcher: WorkerLauncher, runner: JobRunner) {
        self.launcher = launcher; self.runner = runner
    }

    var database: any CalibrationRegistry { runner.database }
    var logger: Logger { runner.logger }

    /// Runs one claimed job in a child process and returns its state afterwards.
    @discardableResult
    public func run(_ job: JobRecord) async -> JobState {
        let started = Date()
        let limit = timeLimit(of: job)
        let outcome: (report: JobRunner.AttemptReport?, exit: ChildExit, timedOut: Bool, wall: Double)
        do {
            outcome = try await ChildProcess.onOwnThread { [launcher] in
                let spawned = JobRunner.seconds()
                let process = try launcher.start(["run-job", "--job", "\(job.id!)", "--owner", job.leaseOwner ?? "",
                                                  "--attempt", "\(job.attempts)"])
                process.closeInput()
                let watchdog = TimeLimitWatchdog(process: process, limit: limit)
                var last: Data?
                while case .line(let line) = process.lines.next() { last = line }
                let report = last.flatMap { try? JSONDecoder().decode(JobRunner.AttemptReport.self, from: $0) }
                let exit = process.wait()
                return (report, exit, watchdog.finish(), JobRunner.seconds() - spawned)
            }
        } catch {
            // The process could not even start (no executable, no memory for a fork): the daemon's
            // problem, but recorded against the attempt so that it is seen and bounded.
            return record(job) { try database.fail(job: job, error: "could not start the recipe process: \(error)", retryAfter: 30) }
        }
        let (report, exit, timedOut) = (outcome.report, outcome.exit, outcome.timedOut)
        if var timing = report?.timing {
            // The child timed its attempt and its peak memory; only the daemon sees the process
            // around it: its start (exec, runtime, configuration) and its exit.
            timing.processSeconds = max(0, outcome.wall - timing.wallSeconds)
            timing.wallSeconds = outcome.wall
            do { try database.record(timing: timing) } catch {
                logger.debug("could not record the job's timing", metadata: ["job.id": "\(job.id!)", "error": "\(error)"])
            }
        }
        if report == nil, exit == .exited(ExitStatus.config.rawValue) {
            // The recipe process reads the configuration file itself; someone has edited it into
            // one with findings (with or without a SIGHUP the daemon refused). Not the job's fault:
            // it waits, uncounted, until the file is fixed, instead of failing three times.
            let fault = "the configuration file has findings, so the recipe process would not start; "
                + "run calibd --check-config and fix it: the job waits until then"
            if runner.faultNotices?.isNew(key: "configuration") ?? true {
                logger.error("jobs wait for the configuration to be fixed", metadata: ["job.id": "\(job.id!)", "fault": "\(fault)"])
            }
            let retry = EnvironmentalFault.retryDelay(postponements: (try? database.postponementCount(ofJob: job.id!)) ?? 0)
            return record(job) { try database.postpone(job: job, reason: fault, retryAfter: retry) }
        }
        if let report, exit.isSuccess || exit == .exited(ChildExit.temporaryFailure) {
            if let fault = report.fault, let key = report.faultKey, runner.faultNotices?.isNew(key: key) ?? false {
                logger.error("jobs wait for the environment to recover", metadata: ["fault": "\(fault)", "job.id": "\(job.id!)"])
            }
            if report.state == .running, let fault = report.fault {
                // The process could not record the postponement (the database itself is the fault): do it here.
                let retry = EnvironmentalFault.retryDelay(postponements: (try? database.postponementCount(ofJob: job.id!)) ?? 0)
                return record(job) { try database.postpone(job: job, reason: fault, retryAfter: retry) }
            }
            if report.state == .succeeded || report.state == .qcFailed { runner.faultNotices?.clear() }
            if exit.isSuccess { return report.state }
        }
        // Died without recording an outcome: a crash, counted against the attempt.
        let current = try? database.job(id: job.id!)
        guard let current, current.state == .running, current.leaseOwner == job.leaseOwner, current.attempts == job.attempts else {
            return current?.state ?? .failed
        }
        let description = timedOut
            ? "recipe exceeded its time limit of \(Self.seconds(limit)) and was stopped (timeLimitSeconds in the profile)"
            : exit.isSuccess ? "recipe process exited without recording an outcome" : "recipe process crashed: \(exit)"
        let seconds = String(format: "%.2f", Date().timeIntervalSince(started))
        removeUnrecordedFiles(of: job)
        let backoff = min(600, 5 * pow(2, Double(max(job.attempts - 1, 0))))
        let state = record(job) { try database.recordCrash(job: job, description: description, retryAfter: backoff) }
        logger.error("recipe process crashed", metadata: [
            "job.id": "\(job.id!)", "job.recipe": "\(job.recipe)", "night": "\(job.night)", "attempt": "\(job.attempts)",
            "reason": "\(description)", "seconds": "\(seconds)", "state": "\(state.rawValue)",
        ])
        return state
    }

    /// The recipe's configured time limit (the default for a recipe no profile names any more).
    func timeLimit(of job: JobRecord) -> TimeInterval {
        runner.configuration.profiles.first { $0.name == job.instrument }?.recipes.first { $0.name == job.recipe }?.timeLimitSeconds
            ?? RecipeSpec.defaultTimeLimitSeconds
    }

    static func seconds(_ value: TimeInterval) -> String {
        value == value.rounded() ? "\(Int(value)) s" : String(format: "%.1f s", value)
    }

    /// Records an attempt's end, waiting out a locked database (the attempt
    /// must not be lost); gives up only when the job is no longer this attempt's.
    private func record(_ job: JobRecord, _ write: () throws -> Void) -> JobState {
        var warned = false
        while true {
            do {
                try write()
                break
            } catch is LeaseLostError {
                break
            } catch {
                if !warned {
                    logger.error("cannot record the end of a job's attempt; retrying every 2 s", metadata: [
                        "job.id": "\(job.id!)", "error": "\(EnvironmentalFault.classify(error, database: database.displayLocation).map { "\($0)" } ?? "\(error)")",
                    ])
                    warned = true
                }
                usleep(2_000_000)
            }
        }
        return (try? database.job(id: job.id!))?.state ?? .failed
    }

    /// Files a crashed attempt left in the products directory: temporary
    /// files and products renamed into place but never recorded (names carry
    /// the job id and generation, `…_j12.fits`, `…_j12_qc.svg`, `…_j12g1.fits`).
    private func removeUnrecordedFiles(of job: JobRecord) {
        let directory = (runner.configuration.productsDirectory as NSString).appendingPathComponent(JobRunner.safeComponent(job.night))
        let marker = "_j\(job.id!)\(job.generation == 0 ? "" : "g\(job.generation)")"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
        let recorded = Set(((try? database.products()) ?? []).filter { $0.jobId == job.id! }.map { String($0.path.dropLast(5)) })
        for name in names where name.contains(marker + ".") || name.contains(marker + "_") {
            let path = (directory as NSString).appendingPathComponent(name)
            if name.hasPrefix(ProductWriter.temporaryPrefix) || !recorded.contains(where: { path.hasPrefix($0) }) {
                unlink(path)
            }
        }
    }
}
