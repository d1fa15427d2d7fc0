import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
import Testing

/// The `JobQueue` contract on SQLite (`CalibrationDatabase`, the embedded default).
@Suite("JobQueue contract on SQLite")
struct SQLiteJobQueueContractTests {
    /// A new database file in a directory of its own, removed with the directory by the OS's tmp cleaning.
    static func make() throws -> QueueUnderTest {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-contract-\(UUID().uuidString)").path
        let path = directory + "/calibd.sqlite"
        let database = try CalibrationDatabase(path: path)
        return QueueUnderTest(backend: "sqlite", queue: database, job: { try database.job(id: $0) },
                              reopen: { try CalibrationDatabase(path: path) })
    }

    @Test("identities: the same work is one job, new inputs supersede a queued job")
    func identities() throws { try JobQueueContract.identitiesAndDedupe(try Self.make()) }

    @Test("dedupe holds when four handles plan the same work at once")
    func concurrentDedupe() throws { try JobQueueContract.concurrentDedupe(try Self.make()) }

    @Test("a claim leases the job to its owner; heartbeats extend only the owner's lease")
    func leases() throws { try JobQueueContract.leasesAndHeartbeats(try Self.make()) }

    @Test("a stale worker back after its job was reclaimed can record nothing")
    func fencing() throws { try JobQueueContract.staleWorkerIsFenced(try Self.make()) }

    @Test("a dead worker's job is re-queued just after its lease and claimed as the next attempt")
    func reclaim() throws { try JobQueueContract.reclaimAfterExpiry(try Self.make()) }

    @Test("a failed attempt backs off, the last one fails for good")
    func failure() throws { try JobQueueContract.failureBackOffAndGiveUp(try Self.make()) }

    @Test("4 concurrent claimers over 200 jobs: none run twice, none lost")
    func concurrentClaimers() throws { try JobQueueContract.concurrentClaimers(try Self.make(), jobs: 200, workers: 4) }

    @Test("complete-and-claim-next records the outcome and claims the next job in one transaction")
    func completeAndClaimNext() throws { try JobQueueContract.completeAndClaimNext(try Self.make()) }

    @Test("a stale worker's complete-and-claim-next is refused and claims nothing")
    func staleCompleteAndClaim() throws { try JobQueueContract.staleWorkerCompleteAndClaimIsFenced(try Self.make()) }

    @Test("4 concurrent claimers cycling with complete-and-claim-next over 200 jobs: none run twice, none lost")
    func concurrentOneCommit() throws {
        try JobQueueContract.concurrentClaimers(try Self.make(), jobs: 200, workers: 4, oneCommit: true)
    }
}

/// The same contract on PostgreSQL, each test in a scratch database of its own.
@Suite("JobQueue contract on PostgreSQL", .enabled(if: TestPostgresServer.available, Comment(rawValue: TestPostgresServer.skipReason)))
struct PostgresJobQueueContractTests {
    /// A queue on a new scratch database; `body` runs, then the database is dropped.
    static func withQueue(_ body: (QueueUnderTest) throws -> Void) throws {
        let server = try TestPostgresServer.found.get()
        let scratch = try PostgresScratchDatabase.create(on: server, prefix: "calibd_contract")
        defer { try? PostgresScratchDatabase.drop(scratch, on: server) }
        let queue = try PostgresJobQueue(location: scratch)
        try body(QueueUnderTest(backend: "postgresql", queue: queue, job: { try queue.job(id: $0) },
                                reopen: { try PostgresJobQueue(location: scratch) }))
    }

    @Test("identities: the same work is one job, new inputs supersede a queued job")
    func identities() throws { try Self.withQueue(JobQueueContract.identitiesAndDedupe) }

    @Test("dedupe holds when four connections plan the same work at once")
    func concurrentDedupe() throws { try Self.withQueue(JobQueueContract.concurrentDedupe) }

    @Test("a claim leases the job to its owner; heartbeats extend only the owner's lease")
    func leases() throws { try Self.withQueue(JobQueueContract.leasesAndHeartbeats) }

    @Test("a stale worker back after its job was reclaimed can record nothing")
    func fencing() throws { try Self.withQueue(JobQueueContract.staleWorkerIsFenced) }

    @Test("a dead worker's job is re-queued just after its lease and claimed as the next attempt")
    func reclaim() throws { try Self.withQueue(JobQueueContract.reclaimAfterExpiry) }

    @Test("a failed attempt backs off, the last one fails for good")
    func failure() throws { try Self.withQueue(JobQueueContract.failureBackOffAndGiveUp) }

    @Test("4 concurrent claimers (own connections) over 1,000 jobs: none run twice, none lost")
    func concurrentClaimers() throws { try Self.withQueue { try JobQueueContract.concurrentClaimers($0, jobs: 1000, workers: 4) } }

    @Test("complete-and-claim-next records the outcome and claims the next job in one transaction")
    func completeAndClaimNext() throws { try Self.withQueue(JobQueueContract.completeAndClaimNext) }

    @Test("a stale worker's complete-and-claim-next is refused and claims nothing")
    func staleCompleteAndClaim() throws { try Self.withQueue(JobQueueContract.staleWorkerCompleteAndClaimIsFenced) }

    @Test("4 concurrent claimers cycling with complete-and-claim-next over 1,000 jobs: none run twice, none lost")
    func concurrentOneCommit() throws {
        try Self.withQueue { try JobQueueContract.concurrentClaimers($0, jobs: 1000, workers: 4, oneCommit: true) }
    }

    @Test("migrations are applied once, in order, and a second opener finds nothing pending")
    func migrations() throws {
        try Self.withQueue { q in
            let queue = try #require(q.queue as? PostgresJobQueue)
            let again = try PostgresJobQueue(location: queue.location)
            #expect(try queue.appliedMigrations() == ["v1-job-queue", "v2-registry"])
            #expect(try again.appliedMigrations() == ["v1-job-queue", "v2-registry"])
        }
    }

    @Test("a NOTIFY wakes a listening worker when a job becomes runnable")
    func wakeUps() throws {
        try Self.withQueue { q in
            let queue = try #require(q.queue as? PostgresJobQueue)
            let wakeUps = try PostgresWakeUps(queue: queue)
            // Nothing queued yet: the wait times out (the polling fallback)
            #expect(!wakeUps.wait(timeout: 0.2))
            try q.queue.ensureJob(JobQueueContract.planned(1), now: JobQueueContract.t0)
            #expect(wakeUps.wait(timeout: 5), "no notification within 5 s of a job being queued")
        }
    }
}
