import CalibDB
import Foundation
import Testing

/// Where a job's time went travels from the recipe process to the job history
/// (`job_attempt_timing`) and is shown by `calibctl job show`.
@Suite("Job phase timing")
struct JobPhaseTimingTests {
    @Test("After calibd --once every job that ran has its time split into phases that add up to its wall time, with the recipe process's peak memory")
    func phasesAreRecordedAndShown() throws {
        // Given a small simulated night
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)

        // When the daemon reduces it (recipes in their own processes)
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")

        // Then every job that reached an outcome has one timing row per attempt
        let database = try CalibrationDatabase(path: ws.database, readOnly: true)
        let ended = try database.jobs().filter { $0.state == .succeeded || $0.state == .qcFailed }
        #expect(!ended.isEmpty)
        for job in ended {
            let timings = try database.timings(ofJob: job.id!)
            #expect(timings.map(\.attempt) == [job.attempts], "job \(job.id!) \(job.recipe)")
            guard let t = timings.last else { continue }
            // measured by the daemon around a real process: it took time to start and held memory
            #expect(t.processSeconds > 0 && t.wallSeconds > t.processSeconds)
            #expect((t.peakRSSBytes ?? 0) > 4 << 20, "peak RSS \(t.peakRSSBytes ?? -1)")
            // the phases never claim more than the wall time, and with the rest they make it up
            let measured = t.phases.filter { $0.name != "other" }.map(\.seconds).reduce(0, +)
            #expect(measured <= t.wallSeconds + 1e-3, "job \(job.id!) \(job.recipe): \(t)")
            #expect(abs(measured + t.unaccountedSeconds - t.wallSeconds) < 1e-3)
            // every recipe reads its raw frames through cfitsio and writes a product
            #expect(t.readSeconds > 0 && t.writeSeconds > 0 && t.fsyncSeconds > 0 && t.databaseSeconds > 0,
                    "job \(job.id!) \(job.recipe): \(t)")
        }

        // And calibctl job show gives them, as text and as JSON
        let bias = try #require(ended.first { $0.recipe == "mbias" })
        let text = try ws.calibctl(["job", "show", "\(bias.id!)"])
        #expect(text.stdout.contains("time by phase"), "\(text.stdout)")
        #expect(text.stdout.contains("COMPUTE") && text.stdout.contains("MiB"))
        let detail = try #require(try ws.json(["job", "show", "\(bias.id!)"]) as? [String: Any])
        let attempts = try #require(detail["attempts"] as? [[String: Any]])
        #expect(attempts.count == 1)
        let wall = try #require(attempts.first?["wallSeconds"] as? Double)
        let stored = try #require(try database.timings(ofJob: bias.id!).first)
        #expect(abs(wall - stored.wallSeconds) < 1e-9)
        #expect((attempts.first?["peakRSSBytes"] as? Int ?? 0) > 0)
    }
}
