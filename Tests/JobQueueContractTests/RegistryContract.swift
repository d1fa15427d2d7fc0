import CalibCore
import CalibDB
import Foundation
import Synchronization
import Testing

/// A calibration registry under test: the backend's name, the registry, and a
/// way to open another handle on the same database (another process or host).
struct RegistryUnderTest: Sendable {
    let backend: String
    let registry: any CalibrationRegistry
    let reopen: @Sendable () throws -> any CalibrationRegistry
}

/// The `CalibrationRegistry` contract beyond the queue: frames, products and
/// their supersede cascade, association answers (best product and why) with
/// pins and references, control commands, daemon state and concurrent
/// readers. Each check runs on SQLite and on PostgreSQL with the same
/// expectations; `sameAnswers` also runs one scenario on both and compares the
/// transcripts word for word.
enum RegistryContract {
    static let t0 = JobQueueContract.t0
    static let nightRule = NightRule()

    static func frame(_ tag: String, night: String = "2027-01-14", type: FrameType = .bias, lamp: String? = nil,
                      setup: String = "arm=BLUE binx=1", mjd: Double = 61_419.9, recordedAt: Date = t0) -> FrameRecord {
        FrameRecord(checksum: "sha256:\(tag)", path: "/raw/\(night)/\(tag).fits", sizeBytes: 2_880 * 4, status: .ok,
                    instrument: "SIMECH", frameType: type, lamp: lamp, night: night, setup: setup, mjdObs: mjd, exptime: 0,
                    recordedAt: recordedAt)
    }

    /// A product made through the queue as a worker would: plan, claim, complete. Returns the product.
    @discardableResult
    static func makeProduct(_ r: any CalibrationRegistry, tag: String, night: String, setup: String, mjd: Double,
                            qcPassed: Bool = true, parameters: String? = nil, type: ProductType = .masterBias,
                            recipe: String = "master_bias", now: Date = t0) throws -> ProductRecord {
        let planned = PlannedJob(recipe: recipe, recipeVersion: "1", parameters: parameters ?? "{\"tag\":\"\(tag)\"}",
                                 instrument: "SIMECH", night: night, setup: setup, productType: type, inputs: [])
        let made = try r.ensureJob(planned, now: now)
        let job = try #require(try r.claimNextJob(owner: "w", lease: 60, now: now))
        #expect(job.id == made.job.id)
        let draft = ProductDraft(productType: type, mjd: mjd, path: "/products/\(tag).fits", checksum: "sha256:p-\(tag)",
                                 qcPassed: qcPassed,
                                 metrics: [QCMetricDraft(name: "read_noise", value: qcPassed ? 3.1 : 9.5, unit: "ADU",
                                                         range: QCRange(min: 2, max: 5)),
                                           QCMetricDraft(name: "mean_level", value: .nan, unit: "ADU", range: nil)])
        let products = try r.complete(job: job, outcome: qcPassed ? .succeeded : .qcFailed("read_noise = 9.5 outside 2…5"),
                                      products: [draft], now: now)
        return try #require(products.first)
    }

    // MARK: Frames

    static func framesIdentityAndDedupe(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        // Given a bias recorded at one path
        let first = try r.record(frame: frame("a"), seenAt: "/raw/2027-01-14/a.fits", mtime: 100)
        #expect(first.isNew && first.frame.id != nil, "\(b)")
        // When the same bytes are seen again under another name
        let copy = try r.record(frame: frame("a"), seenAt: "/raw/2027-01-14/copy-of-a.fits", mtime: 101)
        // Then it is the same frame, not a new one, and both paths are known
        #expect(!copy.isNew && copy.frame.id == first.frame.id && copy.frame.path == "/raw/2027-01-14/a.fits", "\(b)")
        let known = try r.knownPaths(["/raw/2027-01-14/a.fits", "/raw/2027-01-14/copy-of-a.fits", "/raw/nowhere.fits"])
        #expect(known.count == 2 && known.values.allSatisfy { $0.frameId == first.frame.id! }, "\(b): \(known)")
        #expect(known["/raw/2027-01-14/copy-of-a.fits"]?.mtime == 101, "\(b)")
        #expect(try r.frame(checksum: "sha256:a")?.id == first.frame.id && r.frame(id: first.frame.id!)?.checksum == "sha256:a", "\(b)")
        #expect(try r.frameCount() == 1, "\(b)")

        // And a batch records new frames and recognises known ones in one transaction
        let batch = try r.record(batch: [(frame("b", lamp: "ThAr", recordedAt: t0.addingTimeInterval(1)), "/raw/2027-01-14/b.fits", 102),
                                         (frame("c", night: "2027-01-15", type: .flat, lamp: "Halogen", recordedAt: t0.addingTimeInterval(2)),
                                          "/raw/2027-01-15/c.fits", 103),
                                         (frame("a"), "/raw/2027-01-14/a.fits", 100)])
        #expect(batch.map(\.isNew) == [true, true, false], "\(b)")
        #expect(try r.frameCount() == 3, "\(b)")
        #expect(try r.frameCounts(night: "2027-01-14") == ["BIAS": 2], "\(b)")
        #expect(try r.frameLamps() == ["Halogen", "ThAr"], "\(b)")
        #expect(try r.recordedNights() == ["2027-01-14", "2027-01-15"], "\(b)")
        #expect(try r.frameSummaries(instrument: "SIMECH", nights: ["2027-01-14"]).map(\.checksum).sorted() == ["sha256:a", "sha256:b"], "\(b)")
        #expect(try r.frameSummaries(instrument: "OTHER", nights: nil).isEmpty, "\(b)")

        // And listings are newest first, each frame with every path its bytes were seen at
        let listing = try r.frames(night: nil, problemsOnly: false, limit: 10)
        #expect(listing.map(\.frame.checksum) == ["sha256:c", "sha256:b", "sha256:a"], "\(b)")
        #expect(Set(listing.last?.paths ?? []) == ["/raw/2027-01-14/a.fits", "/raw/2027-01-14/copy-of-a.fits"], "\(b)")
        #expect(try r.frames(night: "2027-01-14", problemsOnly: false, limit: 1).map(\.frame.checksum) == ["sha256:b"], "\(b)")

        // And a directory's recorded paths are found by prefix in byte order (a sibling "2027-01-140" is not under it)
        _ = try r.record(frame: frame("d", night: "2027-01-14"), seenAt: "/raw/2027-01-140/d.fits", mtime: 104)
        #expect(try r.recordedPaths(under: ["/raw/2027-01-14"]).sorted()
                == ["/raw/2027-01-14/a.fits", "/raw/2027-01-14/b.fits", "/raw/2027-01-14/copy-of-a.fits"], "\(b)")

        // When a path is re-recorded for other bytes, the old frame keeps its other path and stays usable
        _ = try r.record(frame: frame("a2"), seenAt: "/raw/2027-01-14/a.fits", mtime: 200)
        #expect(try r.frame(checksum: "sha256:a")?.status == .ok, "\(b)")
        // And when its last path is replaced too, it is a problem, with the reason
        _ = try r.record(frame: frame("a3"), seenAt: "/raw/2027-01-14/copy-of-a.fits", mtime: 201)
        let replaced = try #require(try r.frame(checksum: "sha256:a"))
        #expect(replaced.status == .problem && replaced.problem?.hasPrefix("replaced in place: /raw/2027-01-14/copy-of-a.fits now holds other bytes") == true,
                "\(b): \(replaced.problem ?? "nil")")
        // And a problem with no path left is not listed among problems (its bytes are nowhere)
        #expect(!(try r.frames(night: nil, problemsOnly: true, limit: 10)).contains { $0.frame.checksum == "sha256:a" }, "\(b)")

        // When a file is deleted from disk, its frame is marked so, once none of its paths exists
        let marked = try r.markDeleted(paths: ["/raw/2027-01-14/b.fits"], exists: { _ in false }, now: t0)
        #expect(marked == [batch[0].frame.id!], "\(b)")
        let deleted = try #require(try r.frame(checksum: "sha256:b"))
        #expect(deleted.status == .problem && deleted.problem?.hasPrefix("deleted: /raw/2027-01-14/b.fits is gone") == true, "\(b)")
        #expect(try r.markDeleted(paths: ["/raw/2027-01-15/c.fits"], exists: { _ in true }, now: t0).isEmpty, "\(b)")
        #expect(try r.frames(night: nil, problemsOnly: true, limit: 10).map(\.frame.checksum) == ["sha256:b"], "\(b)")
        #expect(try r.frameSummaries(instrument: nil, nights: ["2027-01-14"]).map(\.checksum).sorted()
                == ["sha256:a2", "sha256:a3", "sha256:d"], "\(b)")
    }

    static func concurrentFrameDedupe(_ u: RegistryUnderTest) throws {
        // Given 4 handles (as 4 ingesting hosts) recording the same bytes at the same moment
        let handles = try (0..<4).map { _ in try u.reopen() }
        let results = Mutex<[(Int64, Bool)]>([])
        let errors = Mutex<[String]>([])
        JobQueueContract.runThreads(4) { i in
            do {
                let r = try handles[i].record(frame: frame("same"), seenAt: "/raw/2027-01-14/host\(i).fits", mtime: 1)
                results.withLock { $0.append((r.frame.id!, r.isNew)) }
            } catch { errors.withLock { $0.append("\(error)") } }
        }
        // Then the frame is recorded once, and every path points at it
        let all = results.withLock { $0 }
        #expect(errors.withLock { $0 }.isEmpty, "\(u.backend): \(errors.withLock { $0 })")
        #expect(all.count == 4 && all.filter(\.1).count == 1 && Set(all.map(\.0)).count == 1, "\(u.backend): \(all)")
        #expect(try u.registry.frameCount() == 1, "\(u.backend)")
        #expect(try u.registry.knownPaths((0..<4).map { "/raw/2027-01-14/host\($0).fits" }).count == 4, "\(u.backend)")
    }

    // MARK: Products, QC, supersede

    static func productsAndSupersede(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        // Given a master bias made for a night and setup, with its QC metrics
        let old = try makeProduct(r, tag: "old", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.9)
        #expect(old.availability == .available && !old.isReference && old.supersededBy == nil, "\(b)")
        let metrics = try r.metrics(ofProduct: old.id!)
        #expect(metrics.map(\.name) == ["mean_level", "read_noise"], "\(b): metrics by name")
        #expect(metrics[0].value == nil && metrics[0].passed && metrics[0].rangeMin == nil, "\(b): NaN is stored as unmeasured")
        #expect(metrics[1].value == 3.1 && metrics[1].rangeMin == 2 && metrics[1].rangeMax == 5 && metrics[1].passed, "\(b)")
        #expect(try r.product(path: "/products/old.fits")?.id == old.id && r.product(id: old.id!)?.checksum == "sha256:p-old", "\(b)")

        // When the same recipe makes a new product for that night and setup (new inputs or parameters)
        let new = try makeProduct(r, tag: "new", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.95,
                                  parameters: "{\"tag\":\"new\",\"sigma\":4}")
        // Then the old product is superseded by it, and the old job retired with the reason
        let oldAfter = try #require(try r.product(id: old.id!))
        #expect(oldAfter.supersededBy == new.id, "\(b)")
        let oldJob = try #require(try r.job(id: old.jobId))
        #expect(oldJob.state == .superseded && oldJob.reason == "product \(old.id!) superseded by product \(new.id!) of job \(new.jobId)",
                "\(b): \(oldJob.reason ?? "nil")")
        // And only the new one is current, usable and in the trend
        #expect(try r.products(type: .masterBias, night: "2027-01-14", includeSuperseded: false).map(\.id) == [new.id], "\(b)")
        #expect(try r.products(type: .masterBias, night: nil, includeSuperseded: true).map(\.id) == [old.id, new.id], "\(b)")
        #expect(try r.usableProducts(type: .masterBias, instrument: "SIMECH", setup: Setup(["arm": "BLUE"])).map(\.id) == [new.id], "\(b)")
        #expect(try r.usableProducts(type: .masterBias, instrument: "SIMECH", setup: Setup(["arm": "RED"])).isEmpty, "\(b)")
        #expect(try r.trend(metric: "read_noise", type: .masterBias, since: nil, includeSuperseded: false).map(\.product.id) == [new.id], "\(b)")
        #expect(try r.trend(metric: "read_noise", type: nil, since: "2027-01-14", includeSuperseded: true).map(\.value) == [3.1, 3.1], "\(b)")
        #expect(try r.trend(metric: "read_noise", type: nil, since: "2027-01-15", includeSuperseded: true).isEmpty, "\(b)")

        // And a product of another setup or night is not superseded by it
        let red = try makeProduct(r, tag: "red", night: "2027-01-14", setup: "arm=RED binx=1", mjd: 61_419.9)
        let later = try makeProduct(r, tag: "later", night: "2027-01-15", setup: "arm=BLUE binx=1", mjd: 61_420.9)
        #expect(try r.product(id: new.id!)?.supersededBy == nil && r.product(id: red.id!)?.supersededBy == nil, "\(b)")
        #expect(try r.products(type: nil, night: nil, includeSuperseded: false).map(\.id) == [new.id, red.id, later.id], "\(b)")
        // And a QC-failed product is recorded with its failing verdict and is not usable
        let failed = try makeProduct(r, tag: "bad", night: "2027-01-16", setup: "arm=BLUE binx=1", mjd: 61_421.9, qcPassed: false)
        let failedMetrics = try r.metrics(ofProduct: failed.id!)
        #expect(!failed.qcPassed && failedMetrics.contains { $0.name == "read_noise" && !$0.passed }, "\(b)")
        #expect(try r.job(id: failed.jobId)?.state == .qcFailed, "\(b)")
        #expect(!(try r.usableProducts(type: .masterBias, instrument: nil, setup: Setup())).contains { $0.id == failed.id }, "\(b)")
        #expect(try r.instruments(withProductsOf: .masterBias) == ["SIMECH"] && r.instruments(withProductsOf: .masterFlat).isEmpty, "\(b)")
        #expect(Set(try r.productSetups(type: .masterBias, instrument: "SIMECH").map(\.canonical)) == ["arm=BLUE binx=1", "arm=RED binx=1"], "\(b)")
    }

    // MARK: Association, pins, references

    /// One scenario's answers, as text: what `calibctl best` would print, per request.
    static func associationTranscript(_ r: any CalibrationRegistry) throws -> [String] {
        let associator = CalibrationAssociator(database: r)
        let rule = AssociationRule(match: ["arm", "binx"])
        func ask(_ night: String, _ arm: String) throws -> String {
            let n = ObservingNight(night)!
            let request = AssociationRequest(type: .masterBias, instrument: "SIMECH", night: n,
                                             setup: Setup(["arm": arm, "binx": "1"]), mjd: n.startDateMJD + 0.9)
            let result = try associator.best(request, rule: rule)
            return "\(night) \(arm): \(result.chosen.map { String($0.candidate.id) } ?? "none") \(result.basis.rawValue) — \(result.explanation)"
        }
        var lines: [String] = []
        // Nightly products: blue on the 10th and 14th, red on the 12th; a QC-failed blue on the 15th
        let blue10 = try makeProduct(r, tag: "blue10", night: "2027-01-10", setup: "arm=BLUE binx=1", mjd: ObservingNight("2027-01-10")!.startDateMJD + 0.9)
        let red12 = try makeProduct(r, tag: "red12", night: "2027-01-12", setup: "arm=RED binx=1", mjd: ObservingNight("2027-01-12")!.startDateMJD + 0.9)
        let blue14 = try makeProduct(r, tag: "blue14", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: ObservingNight("2027-01-14")!.startDateMJD + 0.9)
        let bad15 = try makeProduct(r, tag: "bad15", night: "2027-01-15", setup: "arm=BLUE binx=1", mjd: ObservingNight("2027-01-15")!.startDateMJD + 0.9, qcPassed: false)
        lines.append(try ask("2027-01-15", "BLUE"))   // rules: the nearest QC-passed blue (14th), never the failed one
        lines.append(try ask("2027-01-11", "BLUE"))   // rules: the 10th and 14th are... the nearer
        lines.append(try ask("2027-01-15", "RED"))
        lines.append(try ask("2027-01-15", "GREEN")) // none, and what would be needed

        // A pin of another arm's product is set aside (never served, forced or not)
        _ = try r.addPin(productId: red12.id!, firstNight: ObservingNight("2027-01-15")!, lastNight: ObservingNight("2027-01-16")!,
                     setup: Setup(), note: "old pin", by: "alice", forcedOver: nil, now: t0)
        lines.append(try ask("2027-01-15", "BLUE"))
        // An unforced pin of a QC-failed product is set aside; a forced one is served, saying so
        let unforced = try r.addPin(productId: bad15.id!, firstNight: ObservingNight("2027-01-15")!, lastNight: ObservingNight("2027-01-15")!,
                                    setup: Setup(["arm": "BLUE", "binx": "1"]), note: "try it", by: "bob", forcedOver: nil, now: t0.addingTimeInterval(1))
        lines.append(try ask("2027-01-15", "BLUE"))
        try r.removePin(id: unforced, now: t0.addingTimeInterval(2))
        let forced = try r.addPin(productId: bad15.id!, firstNight: ObservingNight("2027-01-15")!, lastNight: ObservingNight("2027-01-15")!,
                                  setup: Setup(["arm": "BLUE", "binx": "1"]), note: "lamp replaced", by: "carol",
                                  forcedOver: "product \(bad15.id!) failed QC", now: t0.addingTimeInterval(3))
        lines.append(try ask("2027-01-15", "BLUE"))
        lines.append(try ask("2027-01-16", "BLUE"))   // outside the forced pin's nights
        // A pinned product whose file went missing is set aside
        try r.setAvailability(productId: bad15.id!, .missing)
        lines.append(try ask("2027-01-15", "BLUE"))
        try r.removePin(id: forced, now: t0.addingTimeInterval(4))
        // A missing nightly product is never chosen; a reference is the last fallback
        try r.setAvailability(productId: blue14.id!, .quarantined)
        try r.setAvailability(productId: blue10.id!, .missing)
        lines.append(try ask("2027-01-15", "BLUE"))
        let reference = try makeProduct(r, tag: "ref", night: "2026-06-01", setup: "arm=BLUE binx=1",
                                        mjd: ObservingNight("2026-06-01")!.startDateMJD + 0.9, recipe: "static_bias")
        try r.setReference(productId: reference.id!, true)
        lines.append(try ask("2027-01-15", "BLUE"))
        try r.setAvailability(productId: blue14.id!, .available)
        lines.append(try ask("2027-01-15", "BLUE"))   // a nightly product again beats the reference
        lines.append(contentsOf: try r.pinListing().map { "pin \($0.id): \($0.pin.provenance)" })
        return lines
    }

    static func associationAnswers(_ u: RegistryUnderTest) throws {
        let lines = try associationTranscript(u.registry)
        let b = u.backend
        #expect(lines.count == 13, "\(b): \(lines)")
        guard lines.count == 13 else { return }
        // Product ids: blue10 1, red12 2, blue14 3, bad15 4, ref 5
        #expect(lines[0].hasPrefix("2027-01-15 BLUE: 3 rules"), "\(b): \(lines[0])")
        #expect(lines[1].hasPrefix("2027-01-11 BLUE: 1 rules"), "\(b): \(lines[1])")
        #expect(lines[2].hasPrefix("2027-01-15 RED: 2 rules"), "\(b): \(lines[2])")
        #expect(lines[3].hasPrefix("2027-01-15 GREEN: none none"), "\(b): \(lines[3])")
        #expect(lines[4].hasPrefix("2027-01-15 BLUE: 3 rules") && lines[4].contains("pin of product 2") && lines[4].contains("set aside"),
                "\(b): another arm's pinned product was served: \(lines[4])")
        #expect(lines[5].hasPrefix("2027-01-15 BLUE: 3 rules") && lines[5].contains("the product failed QC and the pin was not forced"),
                "\(b): an unforced pin served a QC-failed product: \(lines[5])")
        #expect(lines[6].hasPrefix("2027-01-15 BLUE: 4 pin") && lines[6].contains("carol") && lines[6].contains("FORCED"), "\(b): \(lines[6])")
        #expect(lines[7].hasPrefix("2027-01-16 BLUE: 3 rules"), "\(b): \(lines[7])")
        #expect(lines[8].hasPrefix("2027-01-15 BLUE: 3 rules") && lines[8].contains("missing or quarantined"), "\(b): \(lines[8])")
        #expect(lines[9].hasPrefix("2027-01-15 BLUE: none none"), "\(b): \(lines[9])")
        #expect(lines[10].hasPrefix("2027-01-15 BLUE: 5 reference"), "\(b): \(lines[10])")
        #expect(lines[11].hasPrefix("2027-01-15 BLUE: 3 rules"), "\(b): \(lines[11])")
        #expect(lines[12].hasPrefix("pin 1: pinned by alice"), "\(b): only the pin still in force is listed: \(lines[12])")
    }

    static func pinRefusals(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        let p = try makeProduct(r, tag: "p", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.9)
        #expect(throws: ControlError.self, "\(b)") {
            try r.addPin(productId: 999, firstNight: ObservingNight("2027-01-14")!, lastNight: ObservingNight("2027-01-14")!,
                         setup: Setup(), note: "", by: "x", forcedOver: nil, now: t0)
        }
        #expect(throws: ControlError.self, "\(b)") {
            try r.addPin(productId: p.id!, firstNight: ObservingNight("2027-01-15")!, lastNight: ObservingNight("2027-01-14")!,
                         setup: Setup(), note: "", by: "x", forcedOver: nil, now: t0)
        }
        let id = try r.addPin(productId: p.id!, firstNight: ObservingNight("2027-01-14")!, lastNight: ObservingNight("2027-01-20")!,
                              setup: Setup(["arm": "BLUE"]), note: "why", by: "dana", forcedOver: nil, now: t0)
        let pins = try r.pins(type: .masterBias, instrument: "SIMECH", night: ObservingNight("2027-01-20")!)
        #expect(pins.count == 1 && pins[0].productId == p.id && pins[0].setup == Setup(["arm": "BLUE"]) && !pins[0].forced
                && pins[0].createdBy == "dana" && pins[0].note == "why", "\(b): \(pins)")
        #expect(try r.pins(type: .masterBias, instrument: "SIMECH", night: ObservingNight("2027-01-21")!).isEmpty, "\(b)")
        #expect(try r.pins(type: .masterFlat, instrument: "SIMECH", night: ObservingNight("2027-01-15")!).isEmpty, "\(b)")
        let listed = try r.pinListing()
        #expect(listed.count == 1 && listed[0].id == id && abs(listed[0].createdAt.timeIntervalSince(t0)) < 0.002, "\(b)")
        try r.removePin(id: id, now: t0)
        #expect(throws: ControlError.self, "\(b): a pin removed twice") { try r.removePin(id: id, now: t0) }
        #expect(throws: ControlError.self, "\(b)") { try r.setReference(productId: 999, true) }
        #expect(try r.pinListing().isEmpty, "\(b)")
    }

    // MARK: Control commands and daemon state

    static func controlCommands(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        // Given a succeeded job, a QC-failed one and a running one
        let good = try makeProduct(r, tag: "good", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.9)
        let bad = try makeProduct(r, tag: "bad", night: "2027-01-14", setup: "arm=RED binx=1", mjd: 61_419.9, qcPassed: false)
        let planned = PlannedJob(recipe: "master_dark", recipeVersion: "1", parameters: "{}", instrument: "SIMECH",
                                 night: "2027-01-14", setup: "arm=BLUE binx=1", productType: .masterDark, inputs: [])
        _ = try r.ensureJob(planned, now: t0)
        let running = try #require(try r.claimNextJob(owner: "hostA:1", lease: 60, now: t0))

        // Then a running job cannot be re-run, and an unknown one is named
        #expect(controlRefusal { try r.rerun(jobId: running.id!, requestedBy: "alice", now: t0) }
                == "job \(running.id!) is running; cancel it first or let it finish", "\(b)")
        #expect(controlRefusal { try r.rerun(jobId: 999, requestedBy: "alice", now: t0) } == "no job 999", "\(b)")
        // When it is cancelled, its worker's result is fenced out
        let cancelled = try r.cancel(jobId: running.id!, requestedBy: "alice", now: t0.addingTimeInterval(1))
        #expect(cancelled.state == .cancelled && cancelled.reason == "cancelled by alice" && cancelled.leaseOwner == nil, "\(b)")
        #expect(JobQueueContract.isLeaseLost { _ = try r.complete(job: running, outcome: .succeeded, products: [], now: t0.addingTimeInterval(2)) },
                "\(b): a cancelled job's completion was recorded")
        #expect(controlRefusal { try r.cancel(jobId: running.id!, requestedBy: "alice", now: t0) }
                == "job \(running.id!) already ended (cancelled)", "\(b)")

        // When the night is reprocessed without force, the failed and cancelled jobs are re-queued, the good one not
        let requeued = try r.reprocess(night: "2027-01-14", recipe: nil, setup: Setup(), force: false, requestedBy: "bob", now: t0.addingTimeInterval(3))
        #expect(requeued.compactMap(\.id).sorted() == [bad.jobId, running.id!].sorted(), "\(b)")
        #expect(requeued.allSatisfy { $0.state == .queued && $0.attempts == 0 && $0.generation == 1 && $0.reason == "re-run requested by bob" },
                "\(b): \(requeued)")
        // And with a setup filter and force, only the matching succeeded job is re-queued
        let forced = try r.reprocess(night: "2027-01-14", recipe: "master_bias", setup: Setup(["arm": "BLUE"]), force: true,
                                     requestedBy: "bob", now: t0.addingTimeInterval(4))
        #expect(forced.map(\.id) == [good.jobId], "\(b)")
        // And re-running a queued job changes nothing
        #expect(try r.rerun(jobId: good.jobId, requestedBy: "carol", now: t0.addingTimeInterval(5)).generation == 1, "\(b)")
        #expect(try r.jobs(night: "2027-01-14", states: [.queued]).count == 3, "\(b)")
        #expect(try r.jobs(night: "2027-01-15", states: nil).isEmpty, "\(b)")
        #expect(try r.jobCounts() == [.queued: 3], "\(b)")

        // When a new product supersedes a job's product, that job cannot be re-run and says what to do
        // (the other re-queued jobs are cancelled first, so that the next claims are the ones meant)
        _ = try r.cancel(jobId: bad.jobId, requestedBy: "bob", now: t0.addingTimeInterval(6))
        _ = try r.cancel(jobId: running.id!, requestedBy: "bob", now: t0.addingTimeInterval(6))
        let reclaimed = try #require(try r.claimNextJob(owner: "w", lease: 60, now: t0.addingTimeInterval(6)))
        #expect(reclaimed.id == good.jobId && reclaimed.generation == 1, "\(b)")
        _ = try r.complete(job: reclaimed, outcome: .succeeded, products: [], now: t0.addingTimeInterval(6))
        _ = try makeProduct(r, tag: "newer", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.95,
                            parameters: "{\"newer\":1}", now: t0.addingTimeInterval(7))
        let superseded = try r.jobs(night: "2027-01-14", states: [.superseded])
        #expect(superseded.count == 1, "\(b): \(superseded)")
        if let job = superseded.first {
            #expect(controlRefusal { try r.rerun(jobId: job.id!, requestedBy: "alice", now: t0) }
                    == "job \(job.id!) was superseded by a newer input set; use `calibctl reprocess --night 2027-01-14 --recipe master_bias`", "\(b)")
        }
    }

    static func controlRefusal(_ body: () throws -> Any) -> String? {
        do { _ = try body(); return nil } catch let error as ControlError { return error.message } catch { return "\(error)" }
    }

    static func daemonState(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        #expect(try !r.isPaused() && r.daemonState().isEmpty, "\(b)")
        try r.setDaemonState("paused", "1", now: t0)
        try r.setDaemonState("started_at", "2027-01-15T08:00:00Z", now: t0)
        #expect(try r.isPaused() && r.daemonState() == ["paused": "1", "started_at": "2027-01-15T08:00:00Z"], "\(b)")
        try r.setDaemonState("paused", "0", now: t0.addingTimeInterval(1))
        #expect(try !u.reopen().isPaused(), "\(b): another handle sees the resume")
    }

    // MARK: Job history, attempts, QC re-evaluation, monitoring

    static func jobHistory(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        // Given two bias frames (one seen at two paths) and a master bias chosen by the association engine
        let late = try r.record(frame: frame("late", mjd: 61_419.95), seenAt: "/raw/2027-01-14/late.fits", mtime: 1).frame
        let early = try r.record(frame: frame("early", mjd: 61_419.90), seenAt: "/raw/2027-01-14/early.fits", mtime: 1).frame
        _ = try r.record(frame: frame("early", mjd: 61_419.90), seenAt: "/raw/2027-01-14/again/early.fits", mtime: 2)
        let bias = try makeProduct(r, tag: "bias", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.9)
        let request = AssociationRequest(type: .masterBias, instrument: "SIMECH", night: ObservingNight("2027-01-14")!,
                                         setup: Setup(["arm": "BLUE", "binx": "1"]), mjd: 61_419.9)
        let how = try CalibrationAssociator(database: r).best(request, rule: AssociationRule(match: ["arm"]))
        // When a dark job is planned on them with that bias
        var planned = PlannedJob(recipe: "master_dark", recipeVersion: "1", parameters: "{}", instrument: "SIMECH",
                                 night: "2027-01-14", setup: "arm=BLUE binx=1", productType: .masterDark,
                                 inputs: [late.summary!, early.summary!], calibrations: [.masterBias: bias])
        planned.associations = [.masterBias: how]
        let job = try r.ensureJob(planned, now: t0.addingTimeInterval(10)).job
        // Then its inputs come back in time order with every path, and its calibration with how it was chosen
        let inputs = try r.inputs(ofJob: job.id!)
        #expect(inputs.map(\.frame.checksum) == ["sha256:early", "sha256:late"], "\(b)")
        #expect(Set(inputs.first?.paths ?? []) == ["/raw/2027-01-14/early.fits", "/raw/2027-01-14/again/early.fits"], "\(b)")
        let choices = try r.calibrationChoices(ofJob: job.id!)
        #expect(choices.count == 1 && choices[0].type == .masterBias && choices[0].productId == bias.id && choices[0].basis == "rules"
                && choices[0].level == how.level && choices[0].explanation == how.explanation, "\(b): \(choices)")
        #expect(try r.calibrations(ofJob: job.id!)[.masterBias]?.path == bias.path, "\(b)")
        // And its history records each step in order
        let claimed = try #require(try r.claimNextJob(owner: "w", lease: 60, now: t0.addingTimeInterval(11)))
        _ = try r.complete(job: claimed, outcome: .succeeded, products: [], now: t0.addingTimeInterval(12))
        let events = try r.events(ofJob: job.id!)
        #expect(events.map(\.state) == [.queued, .running, .succeeded], "\(b)")
        #expect(events.first?.message == "2 inputs" && events[1].message == "attempt 1 by w", "\(b): \(events.map(\.message))")
        #expect(abs((events.last?.at ?? .distantPast).timeIntervalSince(t0.addingTimeInterval(12))) < 0.002, "\(b)")

        // And attempt timings are recorded, replaced per attempt, never negative
        try r.record(timing: JobTiming(jobId: job.id!, attempt: 1, wallSeconds: 5, processSeconds: -0.1, computeSeconds: 4,
                                       peakRSSBytes: 1 << 30), now: t0)
        try r.record(timing: JobTiming(jobId: job.id!, attempt: 1, wallSeconds: 6, computeSeconds: 5), now: t0)
        try r.record(timing: JobTiming(jobId: bias.jobId, attempt: 1, wallSeconds: 1), now: t0)
        let timings = try r.timings(ofJob: job.id!)
        #expect(timings.count == 1 && timings[0].wallSeconds == 6 && timings[0].computeSeconds == 5 && timings[0].peakRSSBytes == nil, "\(b)")
        try r.record(timing: JobTiming(jobId: job.id!, attempt: 2, wallSeconds: 5, processSeconds: -0.1), now: t0)
        #expect(try r.timings(ofJob: job.id!).last?.processSeconds == 0, "\(b)")
        #expect(try r.timings(ofJob: nil).map { "\($0.jobId)/\($0.attempt)" } == ["\(bias.jobId)/1", "\(job.id!)/1", "\(job.id!)/2"], "\(b)")
        #expect(try r.jobDurations().map(\.recipe) == ["master_bias", "master_dark"], "\(b)")
        #expect(try r.jobDurations().last?.seconds == 1, "\(b)")
    }

    static func crashesAndPostponements(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        // Given a job allowed 2 attempts, claimed
        let planned = PlannedJob(recipe: "master_bias", recipeVersion: "1", parameters: "{}", instrument: "SIMECH",
                                 night: "2027-01-14", setup: "arm=BLUE", productType: .masterBias, inputs: [], maxAttempts: 2)
        let id = try r.ensureJob(planned, now: t0).job.id!
        let first = try #require(try r.claimNextJob(owner: "hostA:1", lease: 60, now: t0))
        // When the environment stops it (disk full), the attempt is not counted
        let postponed = try r.postpone(job: first, reason: "disk full", retryAfter: 30, now: t0.addingTimeInterval(1))
        #expect(postponed.state == .queued && postponed.attempts == 0 && postponed.leaseOwner == nil, "\(b)")
        #expect(try r.postponementCount(ofJob: id) == 1 && r.crashCount(ofJob: id) == 0, "\(b)")
        #expect(JobQueueContract.isLeaseLost { _ = try r.postpone(job: first, reason: "again", retryAfter: 0, now: t0) }, "\(b)")
        // When its recipe process crashes, it is re-queued with back-off and the crash counted
        let second = try #require(try r.claimNextJob(owner: "hostA:1", lease: 60, now: t0.addingTimeInterval(40)))
        #expect(second.attempts == 1, "\(b)")
        let crashed = try r.recordCrash(job: second, description: "signal 11", retryAfter: 5, now: t0.addingTimeInterval(41))
        #expect(crashed.state == .queued && crashed.reason == "signal 11", "\(b)")
        #expect(try r.crashCount(ofJob: id) == 1, "\(b)")
        #expect(JobQueueContract.isLeaseLost { _ = try r.recordCrash(job: second, description: "late", retryAfter: 0, now: t0) }, "\(b)")
        // When the daemon holding the last attempt dies, recovery fails it for good, naming both crashes
        let third = try #require(try r.claimNextJob(owner: "hostA:2", lease: 60, now: t0.addingTimeInterval(50)))
        #expect(third.attempts == 2, "\(b)")
        let none = try r.recoverAbandonedJobs(deadOwners: [], excluding: nil, now: t0.addingTimeInterval(51))
        #expect(none.requeued == 0 && none.failed == 0, "\(b): a live lease was taken")
        let ownSkipped = try r.recoverAbandonedJobs(deadOwners: ["hostA:2"], excluding: "hostA:2", now: t0.addingTimeInterval(51))
        #expect(ownSkipped.requeued == 0 && ownSkipped.failed == 0, "\(b): the live daemon's own job was taken")
        let recovered = try r.recoverAbandonedJobs(deadOwners: ["hostA:2"], excluding: "hostB:1", now: t0.addingTimeInterval(52))
        #expect(recovered.requeued == 0 && recovered.failed == 1, "\(b)")
        let failed = try #require(try r.job(id: id))
        #expect(failed.state == .failed && failed.reason == "crashed 2 times: the process holding attempt 2 (hostA:2) is gone", "\(b): \(failed.reason ?? "nil")")
        #expect(try r.crashCount(ofJob: id) == 2, "\(b)")

        // And a lapsed lease of another job is re-queued by the sweep (not counted as dead, but as a crashed attempt)
        let other = PlannedJob(recipe: "master_bias", recipeVersion: "1", parameters: "{\"n\":2}", instrument: "SIMECH",
                               night: "2027-01-15", setup: "arm=BLUE", productType: .masterBias, inputs: [])
        let otherId = try r.ensureJob(other, now: t0).job.id!
        _ = try #require(try r.claimNextJob(owner: "hostC:1", lease: 10, now: t0.addingTimeInterval(60)))
        let lapsed = try r.recoverAbandonedJobs(deadOwners: [], excluding: nil, now: t0.addingTimeInterval(71))
        #expect(lapsed.requeued == 1 && lapsed.failed == 0, "\(b)")
        #expect(try r.job(id: otherId)?.reason == "the lease of attempt 1 lapsed (its process stopped reporting)", "\(b)")
    }

    static func qcReevaluationAndCounts(_ u: RegistryUnderTest) throws {
        let r = u.registry, b = u.backend
        // Given a QC-passed master bias (read_noise 3.1 in 2…5) and a failed one (9.5)
        let good = try makeProduct(r, tag: "good", night: "2027-01-14", setup: "arm=BLUE", mjd: 61_419.9)
        let bad = try makeProduct(r, tag: "bad", night: "2027-01-14", setup: "arm=RED", mjd: 61_419.9, qcPassed: false)
        _ = try r.record(frame: frame("f1"), seenAt: "/raw/f1.fits", mtime: 1)
        _ = try r.record(frame: frame("f2", type: .flat), seenAt: "/raw/f2.fits", mtime: 1)
        _ = try r.markDeleted(paths: ["/raw/f2.fits"], exists: { _ in false }, now: t0)
        #expect(try r.frameCountsByTypeAndStatus().map { "\($0.type) \($0.status) \($0.count)" } == ["BIAS ok 1", "FLAT problem 1"], "\(b)")
        #expect(try r.currentProductCountsByTypeAndQC().map { "\($0.type) \($0.passed) \($0.count)" } == ["MBIAS false 1", "MBIAS true 1"], "\(b)")
        // When the configured range becomes 2…3
        let tight = try r.reevaluateQC(products: [good, bad], ranges: { _ in ["read_noise": QCRange(min: 2, max: 3)] }, now: t0.addingTimeInterval(5))
        // Then the good one now fails (the bad one still does), its metric and job say so
        #expect(tight.count == 1 && tight[0].productId == good.id && tight[0].wasPassed && !tight[0].isPassed, "\(b)")
        #expect(tight.first?.failing == ["read_noise = 3.1 outside \(QCRange(min: 2, max: 3))"], "\(b): \(tight.first?.failing ?? [])")
        #expect(try r.product(id: good.id!)?.qcPassed == false, "\(b)")
        let metric = try r.metrics(ofProduct: good.id!).first { $0.name == "read_noise" }
        #expect(metric?.rangeMax == 3 && metric?.passed == false, "\(b)")
        let mean = try r.metrics(ofProduct: good.id!).first { $0.name == "mean_level" }
        #expect(mean?.passed == true && mean?.rangeMin == nil, "\(b): an unranged metric stays informational")
        let job = try #require(try r.job(id: good.jobId))
        #expect(job.state == .qcFailed && job.reason == "QC re-evaluated: read_noise = 3.1 outside \(QCRange(min: 2, max: 3))", "\(b)")
        #expect(try r.events(ofJob: good.jobId).last?.state == .qcFailed, "\(b)")
        // When the range is widened to 0…10, both pass again
        let refreshed = try [good, bad].map { try #require(try r.product(id: $0.id!)) }
        let wide = try r.reevaluateQC(products: refreshed, ranges: { _ in ["read_noise": QCRange(min: 0, max: 10)] }, now: t0.addingTimeInterval(6))
        #expect(wide.map(\.productId) == [good.id!, bad.id!] && wide.allSatisfy(\.isPassed), "\(b)")
        #expect(try r.job(id: bad.jobId)?.state == .succeeded && r.job(id: bad.jobId)?.reason == "QC re-evaluated: passes the current ranges", "\(b)")
        #expect(try r.currentProductCountsByTypeAndQC().map { "\($0.type) \($0.passed) \($0.count)" } == ["MBIAS true 2"], "\(b)")
    }

    // MARK: Concurrent readers

    /// One writer keeps superseding a night's product while 4 readers (own handles) ask for the
    /// current product and the best calibration: every read sees exactly one current product
    /// (the supersede is atomic with the insert) and an answer naming it, never an error.
    static func concurrentReaders(_ u: RegistryUnderTest, rounds: Int) throws {
        let first = try makeProduct(u.registry, tag: "v0", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.9)
        let readers = try (0..<4).map { _ in try u.reopen() }
        let writer = try u.reopen()
        let done = Atomic<Bool>(false)
        let problems = Mutex<[String]>([])
        let reads = Atomic<Int>(0)
        JobQueueContract.runThreads(5) { i in
            if i == 4 {
                defer { done.store(true, ordering: .releasing) }
                do {
                    for n in 1...rounds {
                        _ = try makeProduct(writer, tag: "v\(n)", night: "2027-01-14", setup: "arm=BLUE binx=1", mjd: 61_419.9,
                                            parameters: "{\"round\":\(n)}", now: t0.addingTimeInterval(Double(n)))
                    }
                } catch { problems.withLock { $0.append("writer: \(error)") } }
                return
            }
            let r = readers[i]
            let associator = CalibrationAssociator(database: r)
            let night = ObservingNight("2027-01-14")!
            let request = AssociationRequest(type: .masterBias, instrument: "SIMECH", night: night,
                                             setup: Setup(["arm": "BLUE", "binx": "1"]), mjd: 61_419.9)
            repeat {
                do {
                    let current = try r.products(type: .masterBias, night: "2027-01-14", includeSuperseded: false)
                    if current.count != 1 { problems.withLock { $0.append("reader \(i): \(current.count) current products") } }
                    let best = try associator.best(request, rule: AssociationRule(match: ["arm", "binx"]))
                    if best.chosen == nil || best.basis != .rules { problems.withLock { $0.append("reader \(i): \(best.explanation)") } }
                    reads.add(1, ordering: .relaxed)
                } catch { problems.withLock { $0.append("reader \(i): \(error)") } }
            } while !done.load(ordering: .acquiring)
        }
        #expect(problems.withLock { $0 }.isEmpty, "\(u.backend): \(problems.withLock { $0 }.prefix(5))")
        #expect(reads.load(ordering: .relaxed) >= 4, "\(u.backend)")
        let current = try u.registry.products(type: .masterBias, night: "2027-01-14", includeSuperseded: false)
        #expect(current.count == 1 && current[0].id != first.id && current[0].path == "/products/v\(rounds).fits", "\(u.backend)")
        #expect(try u.registry.products(type: .masterBias, night: nil, includeSuperseded: true).count == rounds + 1, "\(u.backend)")
    }
}
