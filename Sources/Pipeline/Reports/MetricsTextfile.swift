import CalibCore
import CalibDB
import Foundation
import Prometheus

/// calibd's state as Prometheus metrics in the text exposition format, for
/// node-exporter's textfile collector (`--collector.textfile.directory`), so
/// that the observatory's monitoring can alert on a night not complete by
/// morning without talking to calibd.
///
/// Each write builds a fresh swift-prometheus registry from the database
/// (counts are the database's, not the process's, so a restart loses
/// nothing and several processes agree), emits it and renames it into place:
/// node-exporter never reads a half-written file.
///
/// Metrics (all gauges, except the duration histogram):
/// - `calibd_frames{type, status}` recorded frames by type, `status` ok or problem;
/// - `calibd_jobs{state}` jobs by state; `calibd_queue_depth` queued jobs;
/// - `calibd_products{type, qc}` current products by QC verdict (`passed`/`failed`);
/// - `calibd_last_night_info{night}` 1 for the latest night; `calibd_last_night_complete`
///   1 complete, 0 not; `calibd_last_night_settled` 1 when nothing more can run for it;
///   `calibd_last_night_completion_timestamp_seconds` when its last job finished (once settled);
///   `calibd_last_night_expected_products`, `…_passed_products`;
/// - `calibd_recipe_duration_seconds{recipe}` histogram of job run times;
/// - `calibd_metrics_written_timestamp_seconds` when this file was written.
public struct MetricsTextfile: Sendable {
    public let configuration: CalibdConfiguration
    public let database: any CalibrationRegistry

    public init(configuration: CalibdConfiguration, database: any CalibrationRegistry) {
        self.configuration = configuration; self.database = database
    }

    /// Run-time buckets (s): a master bias takes seconds, a 4096² dispersion solution minutes.
    static let durationBuckets: [Double] = [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1200]

    /// The exposition text.
    public func render(now: Date = Date()) throws -> String {
        let registry = PrometheusCollectorRegistry()
        for row in try database.frameCountsByTypeAndStatus() {
            registry.makeGauge(name: "calibd_frames", labels: [("type", row.type), ("status", row.status)],
                               help: "Recorded raw frames by type; status problem = unusable").set(to: Double(row.count))
        }
        let jobs = try database.jobCounts()
        for state in JobState.allCases {
            registry.makeGauge(name: "calibd_jobs", labels: [("state", state.rawValue)], help: "Jobs by state")
                .set(to: Double(jobs[state] ?? 0))
        }
        registry.makeGauge(name: "calibd_queue_depth", help: "Jobs queued and not yet running").set(to: Double(jobs[.queued] ?? 0))
        for row in try database.currentProductCountsByTypeAndQC() {
            registry.makeGauge(name: "calibd_products", labels: [("type", row.type), ("qc", row.passed ? "passed" : "failed")],
                               help: "Current (not superseded) calibration products by QC verdict").set(to: Double(row.count))
        }
        let builder = NightVerdictBuilder(configuration: configuration, database: database)
        if let night = try builder.latestNight() {
            let verdict = try builder.verdict(night: night, now: now)
            registry.makeGauge(name: "calibd_last_night_info", labels: [("night", night)], help: "The latest night recorded").set(to: 1)
            registry.makeGauge(name: "calibd_last_night_complete", help: "1 when the latest night is complete and every product passed QC")
                .set(to: verdict.isComplete ? 1 : 0)
            registry.makeGauge(name: "calibd_last_night_settled", help: "1 when nothing more can run for the latest night")
                .set(to: verdict.isSettled ? 1 : 0)
            registry.makeGauge(name: "calibd_last_night_expected_products", help: "Products the profile expects for the latest night")
                .set(to: Double(verdict.items.count))
            registry.makeGauge(name: "calibd_last_night_passed_products", help: "Expected products of the latest night made and QC-passed")
                .set(to: Double(verdict.items(.passed).count))
            if verdict.isSettled, let finished = try database.jobs(night: night).compactMap(\.finishedAt).max() {
                registry.makeGauge(name: "calibd_last_night_completion_timestamp_seconds",
                                   help: "When the latest night's last job finished (Unix time), once nothing more can run")
                    .set(to: finished.timeIntervalSince1970)
            }
        }
        var histograms: [String: ValueHistogram] = [:]
        for (recipe, seconds) in try database.jobDurations() {
            let histogram = histograms[recipe] ?? registry.makeValueHistogram(
                name: "calibd_recipe_duration_seconds", labels: [("recipe", recipe)], buckets: Self.durationBuckets,
                help: "Run time of recipe jobs")
            histograms[recipe] = histogram
            histogram.record(seconds)
        }
        registry.makeGauge(name: "calibd_metrics_written_timestamp_seconds", help: "When calibd wrote this file (Unix time)")
            .set(to: now.timeIntervalSince1970)
        return registry.emitToString()
    }

    /// Writes the metrics to `path` (default: `metrics.textfile:` of the
    /// configuration) through a temporary file in the same directory and a
    /// rename, so a reader sees the old file or the new, never a part.
    /// Does nothing when no path is configured. The daemon calls it after each
    /// job and each ingest batch.
    public func write(to path: String? = nil, now: Date = Date()) throws {
        guard let path = path ?? configuration.metricsTextfile else { return }
        let text = try render(now: now)
        let directory = (path as NSString).deletingLastPathComponent
        // node-exporter skips names not ending in .prom, so the temporary file is never read.
        let temporary = (directory as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).\(getpid()).tmp")
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else {
                let reason = String(cString: strerror(errno))
                try? FileManager.default.removeItem(atPath: temporary)
                throw PipelineError.productWrite("cannot move the metrics file into place at \(path): \(reason)")
            }
        } catch let error as PipelineError {
            throw error
        } catch {
            throw PipelineError.productWrite("cannot write the metrics file \(temporary) (check metrics.textfile and the directory's permissions): \(error.localizedDescription)")
        }
    }
}
