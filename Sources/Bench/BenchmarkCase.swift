import Foundation

/// One benchmark: a name, its target, and the work. `prepare` builds inputs
/// (not timed); `run` is timed. Each case runs in its own child process so
/// that its peak resident memory is its own.
struct BenchmarkCase: Sendable {
    var name: String
    /// The figure aimed for, as printed beside the result (e.g. "≤ 1 s, ≤ 600 MB").
    var target: String
    /// Wall seconds the target allows (nil when the target is not a time).
    var targetSeconds: Double?
    /// Builds inputs in `directory` for a detector of `size` pixels; returns the timed work.
    /// The work returns a note for the table; a note starting "=SECONDS " reports
    /// the case's own figure (e.g. a latency percentile) instead of its run time.
    var prepare: @Sendable (_ directory: String, _ size: Int) throws -> @Sendable () throws -> String
}

/// Every benchmark, in the order the table lists them. Recipes add theirs here.
let allBenchmarks: [BenchmarkCase] = [
    headerIngestBenchmark,
    isolatedHeaderIngestBenchmark,
    closeToDatabaseLatencyBenchmark,
    masterBiasBenchmark,
    masterFlatBenchmark,
    stitchedMasterFlatBenchmark,
    masterFlatBackgroundBenchmark,
    blazeFitBenchmark,
    archiveBestBenchmark,
    archiveNightListingBenchmark,
    lineFindingBenchmark,
    dispersionFitBenchmark,
    dispersionImageBenchmark,
    wholeNightBenchmark,
    archiveReprocessBenchmark,
] + queueClaimBenchmarks
