import CalibCore
import CalibDB
import Foundation
import Testing

/// A fresh database file in a temporary directory.
func makeDatabase() throws -> CalibrationDatabase {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibdb-\(UUID().uuidString)").path
    return try CalibrationDatabase(path: dir + "/calibd.sqlite")
}

func makeFrame(_ checksum: String, type: FrameType = .bias, night: String = "2026-11-21", setup: String = "arm=RED",
               mjd: Double = 61000.9, at: Date = Date(timeIntervalSince1970: 1_800_000_000)) -> FrameRecord {
    FrameRecord(checksum: checksum, path: "/raw/\(checksum).fits", sizeBytes: 1000, status: .ok, instrument: "SIMECH",
                frameType: type, night: night, setup: setup, mjdObs: mjd, exptime: 0, recordedAt: at)
}

@Suite("Calibration database")
struct CalibrationDatabaseTests {
    @Test("A frame is recorded once by checksum; another path to the same bytes is an alias")
    func frameIdentity() throws {
        let db = try makeDatabase()
        let (first, isNew) = try db.record(frame: makeFrame("aaa"), seenAt: "/raw/a.fits", mtime: 1)
        #expect(isNew)
        let (second, isNew2) = try db.record(frame: makeFrame("aaa"), seenAt: "/raw/copy/a.fits", mtime: 2)
        #expect(!isNew2)
        #expect(second.id == first.id)
        #expect(try db.frameCount() == 1)
        #expect(try db.frames().first?.paths.sorted() == ["/raw/a.fits", "/raw/copy/a.fits"])
        let known = try #require(try db.knownPath("/raw/copy/a.fits"))
        #expect(known.frameId == first.id && known.sizeBytes == 1000 && known.mtime == 2)
        #expect(try db.integrityCheck() == "ok")
    }

    @Test("The schema refuses a problem without a reason")
    func schemaInvariant() throws {
        let db = try makeDatabase()
        var bad = makeFrame("bbb")
        bad.status = .problem
        #expect(throws: (any Error).self) { try db.record(frame: bad, seenAt: "/raw/b.fits", mtime: 1) }
    }

    func plan(_ db: CalibrationDatabase, _ checksums: [String]) throws -> PlannedJob {
        var inputs: [FrameSummary] = []
        for c in checksums {
            let (frame, _) = try db.record(frame: makeFrame(c), seenAt: "/raw/\(c).fits", mtime: 1)
            inputs.append(frame.summary!)
        }
        return PlannedJob(recipe: "mbias", recipeVersion: "1.0", parameters: "{}", instrument: "SIMECH",
                          night: "2026-11-21", setup: "arm=RED", productType: .masterBias, inputs: inputs)
    }

    @Test("The same work is never queued twice; a changed input set supersedes a queued job")
    func dedupe() throws {
        let db = try makeDatabase()
        let (job, created) = try db.ensureJob(try plan(db, ["1", "2", "3"]))
        #expect(created)
        let (again, createdAgain) = try db.ensureJob(try plan(db, ["3", "2", "1"]))
        #expect(!createdAgain)
        #expect(again.id == job.id)
        let (bigger, _) = try db.ensureJob(try plan(db, ["1", "2", "3", "4"]))
        #expect(try db.job(id: job.id!)?.state == .superseded)
        #expect(try db.job(id: bigger.id!)?.state == .queued)
    }

    @Test("Completion is fenced by lease owner and attempt")
    func leaseFencing() throws {
        let db = try makeDatabase()
        try db.ensureJob(try plan(db, ["1", "2", "3"]))
        let claimed = try #require(try db.claimNextJob(owner: "worker-a", lease: 60))
        #expect(try db.claimNextJob(owner: "worker-b", lease: 60) == nil)
        // worker-a's lease lapses; the job is re-queued and worker-b takes it.
        #expect(try db.recoverLeases(now: Date().addingTimeInterval(120)) == 1)
        let retaken = try #require(try db.claimNextJob(owner: "worker-b", lease: 60))
        #expect(retaken.attempts == 2)
        let draft = ProductDraft(productType: .masterBias, mjd: 61000.9, path: "/ws/p.fits", checksum: "x", qcPassed: true, metrics: [])
        #expect(throws: LeaseLostError.self) { try db.complete(job: claimed, outcome: .succeeded, products: [draft]) }
        #expect(throws: LeaseLostError.self) { try db.heartbeat(job: claimed, lease: 60) }
        try db.complete(job: retaken, outcome: .succeeded, products: [draft])
        #expect(try db.job(id: retaken.id!)?.state == .succeeded)
        #expect(try db.products().count == 1)
        let history = try db.events(ofJob: retaken.id!).map(\.state)
        #expect(history == [.queued, .running, .queued, .running, .succeeded])
    }

    @Test("Failures retry with back-off, then stay failed with the error")
    func retries() throws {
        let db = try makeDatabase()
        var planned = try plan(db, ["1", "2", "3"])
        planned.maxAttempts = 2
        try db.ensureJob(planned)
        let t0 = Date()
        let first = try #require(try db.claimNextJob(owner: "w", lease: 60, now: t0))
        try db.fail(job: first, error: "disk full", retryAfter: 30, now: t0)
        #expect(try db.claimNextJob(owner: "w", lease: 60, now: t0.addingTimeInterval(10)) == nil)  // backing off
        let second = try #require(try db.claimNextJob(owner: "w", lease: 60, now: t0.addingTimeInterval(31)))
        try db.fail(job: second, error: "disk full again", retryAfter: 30, now: t0.addingTimeInterval(31))
        let final = try #require(try db.job(id: first.id!))
        #expect(final.state == .failed)
        #expect(final.reason == "disk full again")
    }

    @Test("A newer product of the same type, night and setup supersedes the older and its job")
    func supersede() throws {
        let db = try makeDatabase()
        try db.ensureJob(try plan(db, ["1", "2", "3"]))
        let a = try #require(try db.claimNextJob(owner: "w", lease: 60))
        let metric = QCMetricDraft(name: "readNoiseADU", value: 3.1, unit: "ADU", range: QCRange(min: 1, max: 8))
        try db.complete(job: a, outcome: .succeeded, products: [
            ProductDraft(productType: .masterBias, mjd: 61000.9, path: "/ws/a.fits", checksum: "a", qcPassed: true, metrics: [metric])])
        try db.ensureJob(try plan(db, ["1", "2", "3", "4"]))
        let b = try #require(try db.claimNextJob(owner: "w", lease: 60))
        try db.complete(job: b, outcome: .succeeded, products: [
            ProductDraft(productType: .masterBias, mjd: 61000.9, path: "/ws/b.fits", checksum: "b", qcPassed: true, metrics: [metric])])
        let products = try db.products()
        #expect(products.first { $0.path == "/ws/a.fits" }?.supersededBy == products.first { $0.path == "/ws/b.fits" }?.id)
        #expect(try db.job(id: a.id!)?.state == .superseded)
        let request = AssociationRequest(type: .masterBias, instrument: "SIMECH", night: ObservingNight("2026-11-21")!,
                                         setup: Setup(["arm": "RED"]), mjd: 61000.9)
        let choice = try CalibrationAssociator(database: db).best(request, rule: AssociationRule())
        let idA = try #require(products.first { $0.path == "/ws/a.fits" }?.id)
        let idB = try #require(products.first { $0.path == "/ws/b.fits" }?.id)
        #expect(choice.chosen?.candidate.id == idB)
        #expect(choice.verdicts.first { $0.candidate.id == idA }?.rejection?.contains("superseded") == true)
        #expect(try db.metrics(ofProduct: idB).first?.passed == true)
    }

    @Test("The associator reads products, pins and references from the database")
    func associatorFromDatabase() throws {
        let db = try makeDatabase()
        var ids: [String: Int64] = [:]
        for (night, mjd, passed, path) in [("2026-11-19", 61363.9, true, "/ws/19.fits"), ("2026-11-21", 61365.9, false, "/ws/21.fits"),
                                           ("2026-11-24", 61368.9, true, "/ws/24.fits"), ("2026-06-01", 61192.9, true, "/ws/june.fits")] {
            var planned = try plan(db, ["\(night)-1", "\(night)-2", "\(night)-3"])
            planned.night = night
            try db.ensureJob(planned)
            let job = try #require(try db.claimNextJob(owner: "w", lease: 60))
            let products = try db.complete(job: job, outcome: passed ? .succeeded : .qcFailed("x"), products: [
                ProductDraft(productType: .masterBias, mjd: mjd, path: path, checksum: path, qcPassed: passed, metrics: [])])
            ids[path] = products[0].id
        }
        let associator = CalibrationAssociator(database: db)
        let request = AssociationRequest(type: .masterBias, instrument: "SIMECH", night: ObservingNight("2026-11-21")!, setup: Setup(), mjd: 61366.0)
        let rule = AssociationRule(time: .closest)
        // 2.1 days before beats 2.9 days after; the same night's product failed QC.
        let choice = try associator.best(request, rule: rule)
        #expect(choice.chosen?.candidate.id == ids["/ws/19.fits"])
        #expect(choice.level == 1)
        #expect(choice.verdicts.first { $0.candidate.id == ids["/ws/21.fits"] }?.rejection == "failed QC")
        // A pin overrides the rules; removing it restores them.
        let pin = try db.addPin(productId: ids["/ws/24.fits"]!, firstNight: ObservingNight("2026-11-20")!,
                                lastNight: ObservingNight("2026-11-22")!, setup: Setup(), note: "lamp change", by: "test")
        #expect(try associator.best(request, rule: rule).chosen?.candidate.id == ids["/ws/24.fits"])
        #expect(try associator.best(request, rule: rule).basis == .pin)
        try db.removePin(id: pin)
        #expect(try associator.best(request, rule: rule).chosen?.candidate.id == ids["/ws/19.fits"])
        // With a 1-day age limit nothing nightly qualifies; a reference from June is the last fallback.
        let strict = AssociationRule(time: .closest, maxAgeDays: 1)
        #expect(try associator.best(request, rule: strict).chosen == nil)
        try db.setReference(productId: ids["/ws/june.fits"]!, true)
        let fallback = try associator.best(request, rule: strict)
        #expect(fallback.chosen?.candidate.id == ids["/ws/june.fits"])
        #expect(fallback.basis == .reference)
        // A product whose file went missing is never chosen.
        try db.setAvailability(productId: ids["/ws/june.fits"]!, .missing)
        #expect(try associator.best(request, rule: strict).chosen == nil)
    }
}
