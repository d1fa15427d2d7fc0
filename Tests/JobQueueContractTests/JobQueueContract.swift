import CalibCore
import CalibDB
import Foundation
import Synchronization
import Testing

/// A queue under test, with what the contract needs besides `JobQueue` itself.
struct QueueUnderTest: Sendable {
    let backend: String
    let queue: any JobQueue
    /// Reads a job back (each backend has its own reader).
    let job: @Sendable (Int64) throws -> JobRecord?
    /// Another handle on the same database, as another process or host would open.
    let reopen: @Sendable () throws -> any JobQueue
}

/// The `JobQueue` contract: what the scheduler and workers rely on, whichever
/// database holds the queue. Each check is run on SQLite and on PostgreSQL by
/// the two suites beside this file.
enum JobQueueContract {
    /// A fixed clock origin (2027-01-15T08:00:00Z, whole milliseconds: SQLite keeps ms).
    static let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    /// Timestamps round-trip to the millisecond on SQLite and the microsecond on PostgreSQL.
    static let timeTolerance: TimeInterval = 0.002

    static func planned(_ n: Int, night: String = "2027-01-14", recipe: String = "master_bias",
                        parameters: String? = nil, maxAttempts: Int = 3) -> PlannedJob {
        PlannedJob(recipe: recipe, recipeVersion: "1", parameters: parameters ?? "{\"n\":\(n)}", instrument: "SIMECH",
                   night: night, setup: "arm=blue;n=\(n)", productType: .masterBias, inputs: [], maxAttempts: maxAttempts)
    }

    static func product(_ tag: String, night: String = "2027-01-14") -> ProductDraft {
        ProductDraft(productType: .masterBias, mjd: 61_419.5, path: "/products/\(tag)-\(UUID().uuidString).fits",
                     checksum: "sha256:\(tag)", qcPassed: true,
                     metrics: [QCMetricDraft(name: "mean_level", value: 1000, unit: "ADU", range: QCRange(min: 900, max: 1100))])
    }

    static func isLeaseLost(_ body: () throws -> Void) -> Bool {
        do { try body(); return false } catch is LeaseLostError { return true } catch { return false }
    }

    // MARK: Identities and dedupe

    static func identitiesAndDedupe(_ q: QueueUnderTest) throws {
        // Given a job planned once
        let first = try q.queue.ensureJob(planned(1), now: t0)
        // When the same work is planned again, and different work too
        let again = try q.queue.ensureJob(planned(1), now: t0.addingTimeInterval(5))
        let other = try q.queue.ensureJob(planned(2), now: t0)
        // Then the same work is one job, and other work another
        #expect(first.created && !again.created && other.created, "\(q.backend)")
        #expect(first.job.id == again.job.id, "\(q.backend)")
        #expect(other.job.id != first.job.id, "\(q.backend)")
        let stored = try #require(try q.job(first.job.id!))
        #expect(stored.state == .queued && stored.attempts == 0 && stored.dedupeKey == planned(1).dedupeKey, "\(q.backend)")

        // And a new input set for the same recipe, night and setup supersedes the queued one
        let replacement = try q.queue.ensureJob(planned(1, parameters: "{\"n\":1,\"late_flat\":true}"), now: t0)
        #expect(replacement.created, "\(q.backend)")
        #expect(try q.job(first.job.id!)?.state == .superseded, "\(q.backend)")
    }

    static func concurrentDedupe(_ q: QueueUnderTest) throws {
        // Given 4 handles (as 4 hosts) planning the same work at the same moment
        let handles = try (0..<4).map { _ in try q.reopen() }
        let results = Mutex<[(Int64, Bool)]>([])
        let errors = Mutex<[String]>([])
        runThreads(handles.count) { i in
            do {
                let r = try handles[i].ensureJob(planned(7), now: t0)
                results.withLock { $0.append((r.job.id!, r.created)) }
            } catch { errors.withLock { $0.append("\(error)") } }
        }
        // Then exactly one created it and all got the same job
        let all = results.withLock { $0 }
        #expect(errors.withLock { $0 }.isEmpty, "\(q.backend): \(errors.withLock { $0 })")
        #expect(all.count == 4 && all.filter(\.1).count == 1, "\(q.backend): \(all)")
        #expect(Set(all.map(\.0)).count == 1, "\(q.backend)")
    }

    // MARK: Leases and heartbeats

    static func leasesAndHeartbeats(_ q: QueueUnderTest) throws {
        // Given one queued job claimed with a 10 s lease
        let made = try q.queue.ensureJob(planned(1), now: t0)
        let claimed = try #require(try q.queue.claimNextJob(owner: "hostA:1", lease: 10, now: t0))
        // Then it is running, leased to its owner until now + 10 s, attempt 1
        #expect(claimed.id == made.job.id && claimed.state == .running && claimed.leaseOwner == "hostA:1" && claimed.attempts == 1,
                "\(q.backend)")
        let expiry = try #require(claimed.leaseExpiresAt)
        #expect(abs(expiry.timeIntervalSince(t0) - 10) <= timeTolerance, "\(q.backend): lease \(expiry.timeIntervalSince(t0)) s")
        // And nobody else can claim it
        #expect(try q.queue.claimNextJob(owner: "hostB:1", lease: 10, now: t0.addingTimeInterval(1)) == nil, "\(q.backend)")

        // When its worker heartbeats at t0 + 8 s
        try q.queue.heartbeat(job: claimed, lease: 10, now: t0.addingTimeInterval(8))
        // Then the lease runs to t0 + 18 s: a sweep at t0 + 12 s leaves it alone
        let extended = try #require(try q.job(claimed.id!)?.leaseExpiresAt)
        #expect(abs(extended.timeIntervalSince(t0) - 18) <= timeTolerance, "\(q.backend)")
        #expect(try q.queue.recoverLeases(now: t0.addingTimeInterval(12), owner: nil) == 0, "\(q.backend)")

        // And a heartbeat from anyone but the owner is refused
        var impostor = claimed
        impostor.leaseOwner = "hostB:1"
        #expect(isLeaseLost { try q.queue.heartbeat(job: impostor, lease: 10, now: t0.addingTimeInterval(9)) }, "\(q.backend)")
    }

    // MARK: Fencing a stale worker

    static func staleWorkerIsFenced(_ q: QueueUnderTest) throws {
        // Given worker A claims a job with a 10 s lease, then stalls (SIGSTOP, a partition)
        try q.queue.ensureJob(planned(1), now: t0)
        let a = try #require(try q.queue.claimNextJob(owner: "hostA:1", lease: 10, now: t0))
        // When the lease lapses, the job is reclaimed and worker B takes it
        #expect(try q.queue.recoverLeases(now: t0.addingTimeInterval(10.5), owner: nil) == 1, "\(q.backend)")
        let b = try #require(try q.queue.claimNextJob(owner: "hostB:1", lease: 10, now: t0.addingTimeInterval(11)))
        #expect(b.id == a.id && b.attempts == 2, "\(q.backend)")

        // Then A, back from its stall, can record nothing: not a result, a failure or a heartbeat
        #expect(isLeaseLost { _ = try q.queue.complete(job: a, outcome: .succeeded, products: [product("a")], now: t0.addingTimeInterval(12)) },
                "\(q.backend)")
        #expect(isLeaseLost { try q.queue.fail(job: a, error: "late", retryAfter: 0, permanent: false, now: t0.addingTimeInterval(12)) },
                "\(q.backend)")
        #expect(isLeaseLost { try q.queue.heartbeat(job: a, lease: 10, now: t0.addingTimeInterval(12)) }, "\(q.backend)")
        #expect(try q.job(a.id!)?.leaseOwner == "hostB:1", "\(q.backend)")

        // And B's result is the one recorded, with its product
        let products = try q.queue.complete(job: b, outcome: .succeeded, products: [product("b")], now: t0.addingTimeInterval(13))
        #expect(products.count == 1 && products[0].id != nil && products[0].checksum == "sha256:b" && products[0].jobId == b.id,
                "\(q.backend)")
        let done = try #require(try q.job(b.id!))
        #expect(done.state == .succeeded && done.leaseOwner == nil && done.leaseExpiresAt == nil && done.attempts == 2, "\(q.backend)")
        // And completing twice is refused too
        #expect(isLeaseLost { _ = try q.queue.complete(job: b, outcome: .succeeded, products: [], now: t0.addingTimeInterval(14)) },
                "\(q.backend)")
    }

    // MARK: One commit per cycle: complete and claim the next

    static func completeAndClaimNext(_ q: QueueUnderTest) throws {
        // Given three queued jobs, the first claimed by worker w
        let ids = try (1...3).map { try q.queue.ensureJob(planned($0), now: t0).job.id! }
        let first = try #require(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0))
        #expect(first.id == ids[0], "\(q.backend)")

        // When w records it (no products) and asks for the next in the same call
        let one = try q.queue.completeAndClaimNext(job: first, outcome: .succeeded, products: [], owner: "w", lease: 20,
                                                   now: t0.addingTimeInterval(1))
        // Then the first is succeeded and the second is w's, attempt 1, leased until now + 20 s
        let done = try #require(try q.job(ids[0]))
        #expect(one.products.isEmpty && done.state == .succeeded && done.leaseOwner == nil && done.finishedAt != nil, "\(q.backend)")
        let second = try #require(one.next, "\(q.backend): nothing claimed after a completion")
        #expect(second.id == ids[1] && second.state == .running && second.leaseOwner == "w" && second.attempts == 1, "\(q.backend)")
        let expiry = try #require(second.leaseExpiresAt)
        #expect(abs(expiry.timeIntervalSince(t0) - 21) <= timeTolerance, "\(q.backend): lease \(expiry.timeIntervalSince(t0)) s")
        #expect(try q.job(ids[1])?.leaseOwner == "w", "\(q.backend)")

        // When w records the second with a product, QC failed, and asks again
        let two = try q.queue.completeAndClaimNext(job: second, outcome: .qcFailed("mean_level out of range"),
                                                   products: [product("two")], owner: "w", lease: 20, now: t0.addingTimeInterval(2))
        // Then the product is recorded with the job's outcome, and the third job is claimed
        #expect(two.products.count == 1 && two.products.first?.jobId == ids[1] && two.products.first?.id != nil, "\(q.backend)")
        let qcFailed = try #require(try q.job(ids[1]))
        #expect(qcFailed.state == .qcFailed && qcFailed.reason == "mean_level out of range", "\(q.backend)")
        let third = try #require(two.next, "\(q.backend)")
        #expect(third.id == ids[2] && third.attempts == 1, "\(q.backend)")

        // And when the queue is empty the completion is still recorded, and nothing is claimed
        let three = try q.queue.completeAndClaimNext(job: third, outcome: .succeeded, products: [], owner: "w", lease: 20,
                                                     now: t0.addingTimeInterval(3))
        let thirdState = try q.job(ids[2])?.state
        #expect(three.next == nil && thirdState == .succeeded, "\(q.backend)")
        // And a job still backing off is not claimed by it either
        let later = try q.queue.ensureJob(planned(4, maxAttempts: 2), now: t0).job.id!
        let fourth = try #require(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0.addingTimeInterval(4)))
        try q.queue.fail(job: fourth, error: "disk full", retryAfter: 30, permanent: false, now: t0.addingTimeInterval(4))
        try q.queue.ensureJob(planned(5), now: t0)
        let fifth = try #require(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0.addingTimeInterval(5)))
        let four = try q.queue.completeAndClaimNext(job: fifth, outcome: .succeeded, products: [], owner: "w", lease: 10,
                                                    now: t0.addingTimeInterval(6))
        let backingOff = try q.job(later)?.state
        #expect(four.next == nil && backingOff == .queued, "\(q.backend): claimed a job before its back-off ended")
    }

    static func staleWorkerCompleteAndClaimIsFenced(_ q: QueueUnderTest) throws {
        // Given worker A claimed job 1 and stalled; its lease lapsed and B took job 1 as attempt 2; job 2 waits
        let id1 = try q.queue.ensureJob(planned(1), now: t0).job.id!
        let id2 = try q.queue.ensureJob(planned(2), now: t0).job.id!
        let a = try #require(try q.queue.claimNextJob(owner: "hostA:1", lease: 10, now: t0))
        #expect(a.id == id1, "\(q.backend)")
        #expect(try q.queue.recoverLeases(now: t0.addingTimeInterval(10.5), owner: nil) == 1, "\(q.backend)")
        let b = try #require(try q.queue.claimNextJob(owner: "hostB:1", lease: 10, now: t0.addingTimeInterval(11)))
        #expect(b.id == id1 && b.attempts == 2, "\(q.backend)")

        // When A, back, records its stale result and asks for the next job in the same call (with and without products)
        #expect(isLeaseLost {
            _ = try q.queue.completeAndClaimNext(job: a, outcome: .succeeded, products: [], owner: "hostA:1", lease: 10,
                                                 now: t0.addingTimeInterval(12))
        }, "\(q.backend)")
        #expect(isLeaseLost {
            _ = try q.queue.completeAndClaimNext(job: a, outcome: .succeeded, products: [product("a")], owner: "hostA:1", lease: 10,
                                                 now: t0.addingTimeInterval(12))
        }, "\(q.backend)")
        // Then the result is refused and nothing was claimed under the refused call: job 1 is still B's, job 2 untouched
        let one = try #require(try q.job(id1))
        #expect(one.state == .running && one.leaseOwner == "hostB:1" && one.attempts == 2, "\(q.backend)")
        let two = try #require(try q.job(id2))
        #expect(two.state == .queued && two.leaseOwner == nil && two.attempts == 0, "\(q.backend): job 2 claimed under a refused completion")

        // And B's own cycle records its result and gets job 2
        let cycle = try q.queue.completeAndClaimNext(job: b, outcome: .succeeded, products: [product("b")], owner: "hostB:1",
                                                     lease: 10, now: t0.addingTimeInterval(13))
        #expect(cycle.products.count == 1 && cycle.products.first?.checksum == "sha256:b", "\(q.backend)")
        #expect(cycle.next?.id == id2 && cycle.next?.leaseOwner == "hostB:1", "\(q.backend)")
        // And recording job 1 a second time is refused and claims nothing more
        try q.queue.ensureJob(planned(3), now: t0)
        #expect(isLeaseLost {
            _ = try q.queue.completeAndClaimNext(job: b, outcome: .succeeded, products: [], owner: "hostB:1", lease: 10,
                                                 now: t0.addingTimeInterval(14))
        }, "\(q.backend)")
        #expect(try q.queue.claimNextJob(owner: "hostC:1", lease: 10, now: t0.addingTimeInterval(15))?.attempts == 1, "\(q.backend)")
    }

    // MARK: Reclaim after lease expiry

    static func reclaimAfterExpiry(_ q: QueueUnderTest) throws {
        // Given a job claimed with a 10 s lease whose worker died (no heartbeat)
        let made = try q.queue.ensureJob(planned(1), now: t0)
        _ = try #require(try q.queue.claimNextJob(owner: "hostA:1", lease: 10, now: t0))
        // Then a sweep before expiry leaves it, and one just after re-queues it
        #expect(try q.queue.recoverLeases(now: t0.addingTimeInterval(9.9), owner: nil) == 0, "\(q.backend)")
        #expect(try q.queue.recoverLeases(now: t0.addingTimeInterval(10.01), owner: nil) == 1, "\(q.backend)")
        let requeued = try #require(try q.job(made.job.id!))
        #expect(requeued.state == .queued && requeued.leaseOwner == nil, "\(q.backend)")
        // And the next claimer gets it as attempt 2
        let again = try #require(try q.queue.claimNextJob(owner: "hostB:1", lease: 10, now: t0.addingTimeInterval(10.1)))
        #expect(again.id == made.job.id && again.attempts == 2, "\(q.backend)")

        // And a restarted host reclaims its own jobs at once, lease or not
        #expect(try q.queue.recoverLeases(now: t0.addingTimeInterval(10.2), owner: "hostB:1") == 1, "\(q.backend)")
        #expect(try q.job(made.job.id!)?.state == .queued, "\(q.backend)")
    }

    // MARK: Failure, back-off and give-up

    static func failureBackOffAndGiveUp(_ q: QueueUnderTest) throws {
        // Given a job allowed 2 attempts
        let made = try q.queue.ensureJob(planned(1, maxAttempts: 2), now: t0)
        let first = try #require(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0))
        // When attempt 1 fails with a 30 s back-off
        try q.queue.fail(job: first, error: "disk full", retryAfter: 30, permanent: false, now: t0.addingTimeInterval(1))
        // Then it is queued but not claimable until the back-off passes
        #expect(try q.job(made.job.id!)?.state == .queued, "\(q.backend)")
        #expect(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0.addingTimeInterval(30)) == nil, "\(q.backend)")
        let second = try #require(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0.addingTimeInterval(31.5)))
        #expect(second.attempts == 2, "\(q.backend)")
        // And when the last attempt fails it is failed for good, with the error
        try q.queue.fail(job: second, error: "disk full again", retryAfter: 30, permanent: false, now: t0.addingTimeInterval(32))
        let failed = try #require(try q.job(made.job.id!))
        #expect(failed.state == .failed && failed.reason == "disk full again" && failed.finishedAt != nil, "\(q.backend)")
        #expect(try q.queue.claimNextJob(owner: "w", lease: 10, now: t0.addingTimeInterval(100)) == nil, "\(q.backend)")
    }

    // MARK: Concurrent claimers

    /// `workers` threads, each with its own handle, claim and complete until the queue is empty.
    /// - Returns: how many claims each job got.
    /// - Parameter oneCommit: complete and claim the next in one call (`completeAndClaimNext`), as a worker looping does.
    static func concurrentClaimers(_ q: QueueUnderTest, jobs: Int, workers: Int, oneCommit: Bool = false) throws {
        // Given `jobs` queued jobs
        for n in 0..<jobs { try q.queue.ensureJob(planned(n), now: t0) }
        let handles = try (0..<workers).map { _ in try q.reopen() }
        let claims = Mutex<[Int64: Int]>([:])
        let failures = Mutex<[String]>([])
        // When `workers` threads claim and complete as fast as they can
        runThreads(workers) { i in
            let owner = "host\(i):\(i)"
            do {
                var next = try handles[i].claimNextJob(owner: owner, lease: 600, now: t0)
                while let job = next {
                    claims.withLock { $0[job.id!, default: 0] += 1 }
                    if oneCommit {
                        next = try handles[i].completeAndClaimNext(job: job, outcome: .succeeded, products: [], owner: owner,
                                                                   lease: 600, now: t0).next
                    } else {
                        _ = try handles[i].complete(job: job, outcome: .succeeded, products: [], now: t0)
                        next = try handles[i].claimNextJob(owner: owner, lease: 600, now: t0)
                    }
                }
            } catch { failures.withLock { $0.append("\(owner): \(error)") } }
        }
        // Then every job ran exactly once: none twice, none lost
        let counts = claims.withLock { $0 }
        #expect(failures.withLock { $0 }.isEmpty, "\(q.backend): \(failures.withLock { $0 })")
        #expect(counts.count == jobs, "\(q.backend): \(jobs - counts.count) jobs never claimed")
        #expect(counts.values.allSatisfy { $0 == 1 }, "\(q.backend): \(counts.values.filter { $0 > 1 }.count) jobs claimed twice")
        for id in counts.keys.sorted().prefix(jobs) where try q.job(id)?.state != .succeeded {
            Issue.record("\(q.backend): job \(id) is not succeeded")
        }
    }

    /// Runs `count` threads (real OS threads, not a pool that might run them one after another) and waits for all.
    static func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let group = DispatchGroup()
        for i in 0..<count {
            group.enter()
            let thread = Thread { body(i); group.leave() }
            thread.start()
        }
        group.wait()
    }
}
