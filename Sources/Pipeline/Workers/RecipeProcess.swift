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
    /// This process's peak resident set (VmHWM), in bytes. Asked of the process itself: `wait4`'s
    /// ru_maxrss would also count the daemon's own peak, which the spawn's shared address space
    /// (vfork-like, until exec) leaves in the child's accounting.
    static func peakResidentBytes() -> Int64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) })
        else { return nil }
        return kilobytes * 1024
    }

    /// Applies `recipeThreads:` to this process: the recipes' parallel loops
    /// (`RecipeParallelism`) and OpenBLAS's own thread pool, which LAPACK's solvers use and
    /// which otherwise starts one thread per core. OpenBLAS is asked through
    /// `openblas_set_num_threads`, looked up at run time so a BLAS without it is not an error.
    static func limitThreads(_ threads: Int?) {
        RecipeParallelism.setLimit(threads)
        guard let threads, let symbol = dlsym(nil, "openblas_set_num_threads") else { return }
        typealias SetThreads = @convention(c) (Int32) -> Void
        unsafeBitCast(symbol, to: SetThreads.self)(Int32(clamping: threads))
    }

    public static func run(configuration: CalibdConfiguration, jobId: Int64, owner: String, attempt: Int, logger: Logger) async -> Int32 {
        WorkerProcessGuard.start()
        limitThreads(configuration.recipeThreads)
        let started = DispatchTime.now().uptimeNanoseconds
        func report(_ value: JobRunner.AttemptReport) {
            guard var data = try? JSONEncoder().encode(value) else { return }
            data.append(0x0A)
            _ = LineReader.writeAll(data, to: STDOUT_FILENO)
        }
        let database: any CalibrationRegistry
        let job: JobRecord
        let opening: Double
        do {
            database = try RegistryOpener.open(configuration)
            opening = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            guard let found = try database.job(id: jobId) else {
                logger.error("no such job", metadata: ["job.id": "\(jobId)"])
                return 1
            }
            job = found
        } catch {
            let fault = EnvironmentalFault.classify(error, database: RegistryOpener.displayLocation(configuration.database))
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
        var outcome = await runner.attempt(job)
        // The attempt timed itself; this process also opened the database and looked the job up before it.
        outcome.timing?.databaseSeconds += opening
        outcome.timing?.wallSeconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        outcome.timing?.peakRSSBytes = peakResidentBytes()
        report(outcome)
        return outcome.state == .running && outcome.fault != nil ? ChildExit.temporaryFailure : 0
    }
}
