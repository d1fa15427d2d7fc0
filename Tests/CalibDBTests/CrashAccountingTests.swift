import CalibCore
import CalibDB
import Foundation
import Testing

/// Attempts that end without an outcome: crashes count against the cap,
/// environmental postponements do not.
@Suite("Crash accounting")
struct CrashAccountingTests {
    func queueOneJob(_ db: CalibrationDatabase) throws -> Int64 {
        var inputs: [FrameSummary] = []
        for c in ["c1", "c2", "c3"] {
            let (frame, _) = try db.record(frame: makeFrame(c), seenAt: "/raw/\(c).fits", mtime: 1)
            inputs.append(frame.summary!)
        }
        let planned = PlannedJob(recipe: "mbias", recipeVersion: "1.0", parameters: "{}", instrument: "SIMECH",
                                 night: "2026-11-21", setup: "arm=RED", productType: .masterBias, inputs: inputs, maxAttempts: 3)
        return try db.ensureJob(planned).job.id!
    }

    @Test("A recipe process that crashes three times fails its job for good with 'crashed 3 times' and the crash")
    func crashCap() throws {
        // Given a queued job with three attempts allowed
        let db = try makeDatabase()
        let id = try queueOneJob(db)
        // When each of three attempts dies
        for attempt in 1...3 {
            let claimed = try #require(try db.claimNextJob(owner: "host/1/1", lease: 60))
            #expect(claimed.attempts == attempt)
            try db.recordCrash(job: claimed, description: "recipe process crashed: signal 4 (SIGILL, a Swift runtime trap)", retryAfter: 0)
        }
        // Then it is failed, not queued again, and says why
        let job = try #require(try db.job(id: id))
        #expect(job.state == .failed)
        #expect(job.reason == "crashed 3 times: recipe process crashed: signal 4 (SIGILL, a Swift runtime trap)")
        #expect(try db.claimNextJob(owner: "host/1/1", lease: 60) == nil)
        #expect(try db.crashCount(ofJob: id) == 3)
    }

    @Test("Restarts that find the job's holder dead count the attempt; past the cap the job fails instead of running an 8th time")
    func deadHolderCap() throws {
        // Given a job whose daemon dies during every attempt (the issue saw attempts 7–8 of 3)
        let db = try makeDatabase()
        let id = try queueOneJob(db)
        for attempt in 1...3 {
            let owner = "host/\(1000 + attempt)/1"
            _ = try #require(try db.claimNextJob(owner: owner, lease: 600))
            // When the next daemon starts and finds the holder gone
            let recovered = try db.recoverAbandonedJobs(deadOwners: [owner], excluding: "host/9999/1")
            #expect(recovered.requeued + recovered.failed == 1)
        }
        // Then the third death ends it, with the reason
        let job = try #require(try db.job(id: id))
        #expect(job.state == .failed)
        #expect(job.attempts == 3)
        #expect(job.reason?.hasPrefix("crashed 3 times: the process holding attempt 3") == true)
    }

    @Test("A live daemon's own jobs are never taken by lease recovery, even with a lapsed lease")
    func ownJobsKept() throws {
        let db = try makeDatabase()
        let id = try queueOneJob(db)
        _ = try #require(try db.claimNextJob(owner: "host/1/1", lease: 1, now: Date().addingTimeInterval(-100)))
        let recovered = try db.recoverAbandonedJobs(deadOwners: [], excluding: "host/1/1")
        #expect(recovered.requeued == 0 && recovered.failed == 0)
        #expect(try db.job(id: id)?.state == .running)
        // Another daemon's lapsed lease is recovered.
        let other = try db.recoverAbandonedJobs(deadOwners: [], excluding: "host/2/2")
        #expect(other.requeued == 1)
    }

    @Test("A postponement (disk full, database locked) gives the attempt back and waits out the back-off")
    func postponeDoesNotCount() throws {
        let db = try makeDatabase()
        let id = try queueOneJob(db)
        let now = Date()
        for round in 1...5 {
            let at = now.addingTimeInterval(100 * Double(round))
            let claimed = try #require(try db.claimNextJob(owner: "host/1/1", lease: 60, now: at))
            #expect(claimed.attempts == 1)
            try db.postpone(job: claimed, reason: "no space left on the device of /ws/products", retryAfter: 30, now: at)
        }
        let last = now.addingTimeInterval(500)
        let job = try #require(try db.job(id: id))
        #expect(job.state == .queued && job.attempts == 0)
        #expect(job.reason == "no space left on the device of /ws/products")
        #expect(try db.postponementCount(ofJob: id) == 5)
        #expect(try db.claimNextJob(owner: "host/1/1", lease: 60, now: last.addingTimeInterval(10)) == nil)
        #expect(try db.claimNextJob(owner: "host/1/1", lease: 60, now: last.addingTimeInterval(31))?.attempts == 1)
    }
}
