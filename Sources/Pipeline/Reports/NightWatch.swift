import CalibCore
import CalibDB
import Foundation
import Logging

/// What the daemon does after each job and each ingest batch so that night
/// staff need not ask: refresh the monitoring file, and for every night that
/// has just settled (nothing more can run for it) log its verdict in one line
/// — `notice` when every expected product passed QC, `warning` otherwise — and
/// write its report into `<workspace>/reports`. A night that gains work again
/// (late frames, a rerun) is logged and written again when it settles again.
///
/// Nothing here may stop the night: a failure to write the report or the
/// metrics is logged with the path and the pipeline goes on.
public final class NightWatch: @unchecked Sendable {
    private let configuration: CalibdConfiguration
    private let database: any CalibrationRegistry
    private let logger: Logger
    private let settleSeconds: Double?
    // Serialises `update` between the scheduler's workers and ingest.
    private let lock = NSLock()
    private var tracker = NightCompletionTracker()
    /// Nights that had work since they last settled: the daemon checks only
    /// these, so that a ten-year archive is not re-judged after every job.
    private var touched: Set<String> = []

    /// - Parameter settleSeconds: as `NightVerdictBuilder`'s (0 after a `--once` run).
    public init(configuration: CalibdConfiguration, database: any CalibrationRegistry, logger: Logger, settleSeconds: Double? = nil) {
        self.configuration = configuration; self.database = database; self.logger = logger; self.settleSeconds = settleSeconds
    }

    /// Notes that `night` had work (a job ran, a frame was recorded for it).
    public func touch(night: String) {
        lock.withLock { _ = touched.insert(night) }
    }

    /// Notes the night of a recorded file: its header's, or for a file that
    /// could not be read, the `YYYY-MM-DD` folder it sits in (as the verdict counts it).
    public func touch(frame: FrameRecord, path: String) {
        if let night = frame.night { return touch(night: night) }
        for component in path.split(separator: "/").reversed() where ObservingNight(String(component)) != nil {
            return touch(night: String(component))
        }
    }

    /// Refreshes the metrics file and reports the nights that settled since
    /// the last call; returns their verdicts (for tests and `--once`).
    ///
    /// - Parameter onlyTouched: check only the nights that had work since they
    ///   last settled (the daemon); false checks every night (`--once`).
    @discardableResult
    public func update(onlyTouched: Bool = false, now: Date = Date()) -> [NightVerdict] {
        lock.lock()
        defer { lock.unlock() }
        do {
            try MetricsTextfile(configuration: configuration, database: database).write(now: now)
        } catch {
            logger.warning("could not write the metrics file", metadata: [
                "path": "\(configuration.metricsTextfile ?? "-")", "error": "\(error)"])
        }
        let builder = NightVerdictBuilder(configuration: configuration, database: database, settleSeconds: settleSeconds)
        let settled: [NightVerdict]
        let nights = onlyTouched ? touched.sorted() : nil
        if nights?.isEmpty == true { return [] }
        do { settled = try tracker.newlySettled(builder, nights: nights, now: now) } catch {
            logger.warning("could not work out the nights' verdicts", metadata: ["error": "\(error)"])
            return []
        }
        for verdict in settled {
            touched.remove(verdict.night)
            let level: Logger.Level = verdict.isComplete ? .notice : .warning
            logger.log(level: level, "\(verdict.summaryLine)", metadata: ["night": "\(verdict.night)"])
            guard let night = ObservingNight(verdict.night) else { continue }
            do {
                let writer = NightReportHTML(database: database, configuration: configuration)
                let page = try writer.writeIntoWorkspace(night: night, now: now)
                // Nothing in the workspace is for others, whatever the umask the pages were written under.
                try WorkspacePermissions(configuration: configuration).applyToTree(writer.workspaceReports)
                logger.info("night report written", metadata: ["night": "\(verdict.night)", "path": "\(page)"])
            } catch {
                logger.warning("could not write the night report", metadata: ["night": "\(verdict.night)", "error": "\(error)"])
            }
        }
        return settled
    }
}
