import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging

/// The child side of `IsolatedJobRunner`: `calibd worker run-job` runs one
/// claimed attempt of one job exactly as `JobRunner` does in process — it
/// opens the database itself, heartbeats the lease, writes the products and
/// records the outcome fenced by the lease — then writes a one-line report
/// (`JobRunner.AttemptReport` as JSON) on standard output.
public enum RecipeProcess {
    /// Runs the attempt; returns the process's exit status: 0 when an outcome
    /// was recorded (or the attempt is no longer this one's),
    /// `ChildExit.temporaryFailure` when the environment kept it from recording one.
    public static func run(configuration: CalibdConfiguration, jobId: Int64, owner: String, attempt: Int, logger: Logger) async -> Int32 {
        WorkerProcessGuard.start()
        func report(_ value: JobRunner.AttemptReport) {
            guard var data = try? JSONEncoder().encode(value) else { return }
            data.append(0x0A)
            _ = LineReader.writeAll(data, to: STDOUT_FILENO)
        }
        let database: CalibrationDatabase
        let job: JobRecord
        do {
            database = try CalibrationDatabase(path: configuration.database)
            guard let found = try database.job(id: jobId) else {
                logger.error("no such job", metadata: ["job.id": "\(jobId)"])
                return 1
            }
            job = found
        } catch {
            let fault = EnvironmentalFault.classify(error, database: configuration.database)
            logger.error("the recipe process cannot open the database", metadata: ["error": "\(fault.map { "\($0)" } ?? "\(error)")"])
            report(JobRunner.AttemptReport(state: .running, fault: fault?.description ?? "\(error)",
                                           faultKey: fault.map { "\($0.kind.rawValue) \($0.path)" }))
            return fault == nil ? 1 : ChildExit.temporaryFailure
        }
        guard job.state == .running, job.leaseOwner == owner, job.attempts == attempt else {
            // Cancelled or taken over between the claim and this start: not ours to run.
            report(JobRunner.AttemptReport(state: job.state))
            return 0
        }
        FaultInjection.fromEnvironment().trap(onRecipe: job.recipe)
        var runner = JobRunner(configuration: configuration, database: database, logger: logger)
        runner.faultNotices = nil  // the daemon logs a lasting fault once, not every process
        let outcome = await runner.attempt(job)
        report(outcome)
        return outcome.state == .running && outcome.fault != nil ? ChildExit.temporaryFailure : 0
    }
}
