import CalibDB
import Foundation
import Testing

/// `calibctl reprocess --nights FIRST..LAST` (#16): an archive's range of nights in one command,
/// refused with the reason when the range is malformed.
@Suite("calibctl reprocess --nights", .serialized)
struct ReprocessRangeTests {
    @Test("a malformed range is refused with a reason a person can act on, before anything is touched")
    func malformedRanges() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let cases: [([String], String)] = [
            (["--nights", "2016-01-01"], "is not a range of nights: write FIRST..LAST"),
            (["--nights", "2016-01-01..."], "--nights '.' is not a night"),
            (["--nights", "..2016-01-01"], "is not a range of nights"),
            (["--nights", "2016-01-01..2016-02-01..2016-03-01"], "is not a range of nights"),
            (["--nights", "2016-01-01..2016-13-01"], "--nights '2016-13-01' is not a night"),
            (["--nights", "2016-02-30..2016-03-01"], "no day 30 in February 2016"),
            (["--nights", "2025-12-31..2016-01-01"], "ends before it starts"),
            ([], "give either --night NIGHT or --nights FIRST..LAST"),
            (["--night", "2026-11-21", "--nights", "2026-11-20..2026-11-22"], "give either --night NIGHT or --nights FIRST..LAST"),
        ]
        for (arguments, message) in cases {
            let result = try ws.calibctl(["reprocess"] + arguments)
            #expect(result.status == 64, "calibctl reprocess \(arguments): exit \(result.status)")
            #expect(result.stderr.contains(message), "calibctl reprocess \(arguments): \(result.stderr)")
        }
        // The reversed range's remedy writes it the right way round
        #expect(try ws.calibctl(["reprocess", "--nights", "2025-12-31..2016-01-01"]).stderr.contains("--nights 2016-01-01..2025-12-31"))
    }

    @Test("a range re-queues the jobs of every night in it, both ends included, and of no other night")
    func rangeRequeuesItsNights() throws {
        // Given two simulated nights reduced by calibd --once
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(night: "2026-11-21")
        try ws.simulate(night: "2026-11-23")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "warning"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        let database = try CalibrationDatabase(path: ws.database)
        let finished: Set<JobState> = [.succeeded, .failed, .qcFailed, .cancelled]
        let first = try database.jobs(night: "2026-11-21").filter { finished.contains($0.state) }
        let second = try database.jobs(night: "2026-11-23").filter { finished.contains($0.state) }
        try #require(!first.isEmpty && !second.isEmpty)

        // When a range ending on the first night is reprocessed with --force
        let result = try ws.calibctl(["reprocess", "--nights", "2026-11-19..2026-11-21", "--force"])

        // Then exactly the first night's jobs are queued again
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.hasPrefix("\(first.count) job\(first.count == 1 ? "" : "s") queued"), "\(result.stdout)")
        #expect(try database.jobs(night: "2026-11-21").filter { $0.state == .queued }.count == first.count)
        #expect(try database.jobs(night: "2026-11-23").allSatisfy { $0.state != .queued })
    }
}
