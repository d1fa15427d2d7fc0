import CalibCore
import CalibDB
import Foundation
import Logging

/// Works out a night's `NightVerdict` from the database and the configuration.
///
/// What is expected comes from the profile, not from the jobs that happen to
/// exist: for every recipe, every setup (on the recipe's match keys, `exptime`
/// and `lamp` aside) of the night's usable frames that the recipe or a
/// consumer of its product takes as input should yield a
/// product — one per input set where the recipe splits by exposure time or
/// lamp. A setup with no input set at all is "not possible" with the frames
/// it lacks named; otherwise the latest job of the set says what happened,
/// and without a job the planner's own checks (completeness, then the
/// association engine for upstream calibrations) say why not, in their words.
///
/// Read-only: it never plans or changes a job, so `calibctl` may call it with
/// the daemon running.
public struct NightVerdictBuilder: Sendable {
    public let configuration: CalibdConfiguration
    public let database: any CalibrationRegistry
    /// How long an input set without a template waits for more frames: the
    /// configuration's, or 0 after a `--once` run, which takes every set as it is.
    public let settleSeconds: Double

    public init(configuration: CalibdConfiguration, database: any CalibrationRegistry, settleSeconds: Double? = nil) {
        self.configuration = configuration; self.database = database
        self.settleSeconds = settleSeconds ?? configuration.ingest.settleSeconds
    }

    /// Every night's verdict, oldest first, as `calibd --once` prints them (`NightVerdict.batchSummary`).
    public func batchSummary(now: Date = Date()) throws -> String {
        NightVerdict.batchSummary(try nights().map { try verdict(night: $0, now: now) },
                                  reports: (configuration.workspace as NSString).appendingPathComponent("reports"))
    }

    /// Every night something was recorded for — usable frames, jobs, or
    /// unusable files placed by their path or header — oldest first.
    public func nights() throws -> [String] {
        var nights = Set(try database.recordedNights())
        for listing in try database.frames(problemsOnly: true) {
            if let night = Self.night(of: listing) { nights.insert(night) }
        }
        return nights.sorted()
    }

    /// The latest night with anything recorded: "tonight" for a person on duty.
    public func latestNight() throws -> String? { try nights().last }

    /// The verdict of one night as of `now` (sets still inside the configured
    /// settle time count as waiting).
    public func verdict(night: String, now: Date = Date()) throws -> NightVerdict {
        let jobs = try database.jobs(night: night)
        let products = try database.products(night: night, includeSuperseded: false)
        let planner = JobPlanner(configuration: configuration, database: database, logger: Logger(label: "calibd.verdict"))
        var items: [NightVerdict.ExpectedProduct] = []
        var frameCount = 0
        for profile in configuration.profiles {
            let frames = try database.frameSummaries(instrument: profile.name, nights: [night])
            frameCount += frames.count
            guard !frames.isEmpty else { continue }
            for recipe in JobPlanner.dependencyOrder(profile.recipes) {
                let groups = InputSetPlanner.groups(of: frames, for: recipe, instrument: profile.name)
                let baseKeys = recipe.inputs.match.filter { $0 != "exptime" && $0 != "lamp" }
                // A setup calls for the product when the night has frames in it that the recipe or one of the product's
                // consumers takes: X-shooter's pinhole arcs (slit Pin_0.5) call for a bias, not for a Pin_0.5 flat.
                // A consumer calls for it only in the setups whose upstream names it (X-shooter's NIR needs no bias).
                let consumers = profile.recipes.filter { $0.anyUpstream.contains(recipe.product) || $0.optionalUpstream.contains(recipe.product) }
                let calling = frames.filter { frame in
                    frame.type == recipe.inputs.type || consumers.contains { consumer in
                        consumer.inputs.type == frame.type
                            && (consumer.upstream(for: frame.setup).contains(recipe.product) || consumer.optionalUpstream.contains(recipe.product))
                    }
                }
                let setups = Set(calling.map { $0.setup.restricted(to: baseKeys) })
                    .sorted { $0.canonical < $1.canonical }
                for setup in setups {
                    let sets = groups.filter { $0.setup.restricted(to: baseKeys) == setup }
                    guard !sets.isEmpty else {
                        let lamp = recipe.inputs.lamp.map { "\($0) " } ?? ""
                        items.append(NightVerdict.ExpectedProduct(
                            instrument: profile.name, recipe: recipe.name, productType: recipe.product, setup: setup.canonical,
                            outcome: .notPossible,
                            reason: "no \(lamp)\(recipe.inputs.type.rawValue) frames for \(setup.canonical) (needs ≥ \(recipe.inputs.min))",
                            jobId: nil, products: [], failedMetrics: []))
                        continue
                    }
                    for set in sets {
                        items.append(try expected(set, recipe: recipe, profile: profile, jobs: jobs, products: products,
                                                  planner: planner, now: now))
                    }
                }
            }
        }
        let unsettledJobs = jobs.contains { $0.state == .queued || $0.state == .running || $0.state == .waiting }
        let unusable = try database.frames(problemsOnly: true)
            .filter { Self.night(of: $0) == night }
            .map { NightVerdict.UnusableFile(frameId: $0.frame.id!, path: $0.paths.first ?? $0.frame.path, reason: $0.frame.problem ?? "") }
        return NightVerdict(night: night, items: items, unusableFiles: unusable, frameCount: frameCount,
                            isSettled: !unsettledJobs && !items.contains { $0.outcome == .waiting })
    }

    /// What became of one input set: its latest job's state, or without a
    /// job, why the planner has not made one.
    func expected(_ set: InputGroup, recipe: RecipeSpec, profile: InstrumentProfile, jobs: [JobRecord], products: [ProductRecord],
                  planner: JobPlanner, now: Date) throws -> NightVerdict.ExpectedProduct {
        var item = NightVerdict.ExpectedProduct(
            instrument: profile.name, recipe: recipe.name, productType: recipe.product, setup: set.setup.canonical,
            outcome: .waiting, reason: nil, jobId: nil, products: [], failedMetrics: [])
        let candidates = jobs.filter { $0.recipe == recipe.name && $0.instrument == profile.name && $0.setup == item.setup }
        // A superseded job has a newer one for the same set; only when every job is superseded is the newest the answer.
        guard let job = candidates.filter({ $0.state != .superseded }).max(by: { $0.id! < $1.id! })
                ?? candidates.max(by: { $0.id! < $1.id! }) else {
            return try unplanned(set, recipe: recipe, profile: profile, item: item, planner: planner, now: now)
        }
        item.jobId = job.id
        let made = products.filter { $0.jobId == job.id }
        item.products = made.map { NightVerdict.MadeProduct(id: $0.id!, type: $0.productType, path: $0.path, qcPassed: $0.qcPassed) }
        switch job.state {
        case .succeeded:
            item.outcome = .passed
        case .qcFailed:
            item.outcome = .qcFailed
            for product in made where !product.qcPassed {
                item.failedMetrics += try database.metrics(ofProduct: product.id!).filter { !$0.passed }.map {
                    NightVerdict.MetricFailure(productType: product.productType, name: $0.name, value: $0.value, unit: $0.unit,
                                               min: $0.rangeMin, max: $0.rangeMax)
                }
            }
            // A recipe's products often share a metric (flat/blaze: the lamp level on FLAT, BLAZE and E2DS): say it once.
            var seen: Set<String> = []
            item.failedMetrics = item.failedMetrics.filter { seen.insert($0.description).inserted }
            item.reason = item.failedMetrics.isEmpty ? (job.reason ?? "QC failed")
                : item.failedMetrics.map(\.description).joined(separator: "; ")
        case .failed:
            item.outcome = .failed
            item.reason = job.reason ?? "job \(job.id!) failed without a recorded reason"
        case .cancelled:
            item.outcome = .failed
            item.reason = "job \(job.id!) was cancelled" + (job.reason.map { ": \($0)" } ?? "")
        case .queued:
            item.reason = "job \(job.id!) is queued" + (job.attempts > 0 ? " (attempt \(job.attempts + 1) of \(job.maxAttempts)): \(job.reason ?? "")" : "")
        case .running:
            item.reason = "job \(job.id!) is running (attempt \(job.attempts))"
        case .waiting:
            item.reason = "job \(job.id!) is waiting" + (job.reason.map { ": \($0)" } ?? "")
        case .superseded:
            item.reason = "job \(job.id!) was superseded and its successor is not planned yet"
        }
        return item
    }

    /// An input set without a job: the planner's completeness check, then its
    /// choice of upstream calibrations, tell why.
    func unplanned(_ set: InputGroup, recipe: RecipeSpec, profile: InstrumentProfile, item: NightVerdict.ExpectedProduct,
                   planner: JobPlanner, now: Date) throws -> NightVerdict.ExpectedProduct {
        var item = item
        switch InputSetPlanner.completeness(of: set, spec: recipe.inputs, now: now, settleSeconds: settleSeconds) {
        case .waiting(let reason, let recheckAt):
            // Without a moment to look again, only a new frame can change the answer.
            item.outcome = recheckAt == nil ? .notPossible : .waiting
            item.reason = recheckAt == nil && !reason.contains("at least") ? "\(reason) (needs ≥ \(recipe.inputs.min))" : reason
        case .complete(let inputs):
            let mjd = inputs.map(\.mjd).reduce(0, +) / Double(inputs.count)
            switch try planner.chooseUpstream(recipe, profile: profile, night: set.night, setup: set.setup, mjd: mjd) {
            case .failure(let missing):
                // "waiting for job N …" may still come; "waiting for a usable X" has nothing making one.
                item.outcome = missing.reason.hasPrefix("waiting for job") ? .waiting : .notPossible
                item.reason = missing.reason
            case .success:
                item.outcome = .waiting
                item.reason = "its \(inputs.count) \(recipe.inputs.type.rawValue) frames are complete; the planner has not queued a job yet"
            }
        }
        return item
    }

    /// The night a recorded file belongs to: its header's, else the
    /// `YYYY-MM-DD` directory it lies in (a file that could not be read has no
    /// header night, but the night staff filed it under one).
    public static func night(of listing: FrameListing) -> String? {
        if let night = listing.frame.night { return night }
        for path in listing.paths + [listing.frame.path] {
            let directories = path.split(separator: "/").dropLast()
            if let night = directories.reversed().lazy.compactMap({ ObservingNight(String($0)) }).first { return night.description }
        }
        return nil
    }
}
