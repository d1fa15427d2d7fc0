import CalibCore
import Foundation

// Protocol requirements cannot carry default arguments, so callers holding
// `any CalibrationRegistry` would otherwise have to spell out every `now:` and
// every optional filter that `CalibrationDatabase` lets them omit. These
// overloads supply the same defaults as `CalibrationDatabase` (now: the
// current time; filters: none; includeSuperseded as documented per call), so
// moving a caller from the SQLite class to the protocol changes no behaviour.
// Each overload omits the defaulted parameters entirely: one with the same
// labels as its requirement would call itself instead of the backend.

extension JobQueue {
    @discardableResult
    public func ensureJob(_ planned: PlannedJob) throws -> (job: JobRecord, created: Bool) {
        try ensureJob(planned, now: Date())
    }
    public func claimNextJob(owner: String, lease: TimeInterval) throws -> JobRecord? {
        try claimNextJob(owner: owner, lease: lease, now: Date())
    }
    public func heartbeat(job: JobRecord, lease: TimeInterval) throws {
        try heartbeat(job: job, lease: lease, now: Date())
    }
    @discardableResult
    public func complete(job: JobRecord, outcome: JobOutcome, products: [ProductDraft]) throws -> [ProductRecord] {
        try complete(job: job, outcome: outcome, products: products, now: Date())
    }
    public func completeAndClaimNext(job: JobRecord, outcome: JobOutcome, products: [ProductDraft], owner: String,
                                     lease: TimeInterval) throws -> (products: [ProductRecord], next: JobRecord?) {
        try completeAndClaimNext(job: job, outcome: outcome, products: products, owner: owner, lease: lease, now: Date())
    }
    public func fail(job: JobRecord, error: String, retryAfter: TimeInterval, permanent: Bool = false) throws {
        try fail(job: job, error: error, retryAfter: retryAfter, permanent: permanent, now: Date())
    }
    public func fail(job: JobRecord, error: String, retryAfter: TimeInterval, now: Date) throws {
        try fail(job: job, error: error, retryAfter: retryAfter, permanent: false, now: now)
    }
    @discardableResult
    public func recoverLeases() throws -> Int { try recoverLeases(now: Date(), owner: nil) }
    @discardableResult
    public func recoverLeases(now: Date) throws -> Int { try recoverLeases(now: now, owner: nil) }
    @discardableResult
    public func recoverLeases(owner: String?) throws -> Int { try recoverLeases(now: Date(), owner: owner) }
}

extension FrameRegistry {
    public func frameSummaries() throws -> [FrameSummary] { try frameSummaries(instrument: nil, nights: nil) }
    public func frameSummaries(instrument: String?) throws -> [FrameSummary] {
        try frameSummaries(instrument: instrument, nights: nil)
    }
    public func frameSummaries(nights: [String]?) throws -> [FrameSummary] {
        try frameSummaries(instrument: nil, nights: nights)
    }
    public func frames(night: String? = nil, problemsOnly: Bool = false) throws -> [FrameListing] {
        try frames(night: night, problemsOnly: problemsOnly, limit: 10_000)
    }
    public func frames(night: String? = nil, limit: Int) throws -> [FrameListing] {
        try frames(night: night, problemsOnly: false, limit: limit)
    }
    @discardableResult
    public func markDeleted(paths: [String], exists: (String) -> Bool) throws -> [Int64] {
        try markDeleted(paths: paths, exists: exists, now: Date())
    }
}

extension ProductRegistry {
    /// Superseded products included, as `CalibrationDatabase.products` does by default.
    public func products(type: ProductType? = nil, night: String? = nil) throws -> [ProductRecord] {
        try products(type: type, night: night, includeSuperseded: true)
    }
    public func products(type: ProductType? = nil, includeSuperseded: Bool) throws -> [ProductRecord] {
        try products(type: type, night: nil, includeSuperseded: includeSuperseded)
    }
    public func products(night: String?, includeSuperseded: Bool) throws -> [ProductRecord] {
        try products(type: nil, night: night, includeSuperseded: includeSuperseded)
    }
    /// Superseded products excluded, as `CalibrationDatabase.trend` does by default.
    public func trend(metric: String, type: ProductType?, since: String?) throws -> [(product: ProductRecord, value: Double?)] {
        try trend(metric: metric, type: type, since: since, includeSuperseded: false)
    }
    public func reevaluateQC(products: [ProductRecord], ranges: (ProductRecord) -> [String: QCRange]) throws -> [QCReevaluation] {
        try reevaluateQC(products: products, ranges: ranges, now: Date())
    }
}

extension CalibrationLookup {
    public func candidates(type: ProductType, instrument: String, mjd: ClosedRange<Double>?) throws -> [CalibrationCandidate] {
        try candidates(type: type, instrument: instrument, mjd: mjd, including: [])
    }
    @discardableResult
    public func addPin(productId: Int64, firstNight: ObservingNight, lastNight: ObservingNight, setup: Setup,
                       note: String, by who: String, forcedOver: String? = nil) throws -> Int64 {
        try addPin(productId: productId, firstNight: firstNight, lastNight: lastNight, setup: setup, note: note, by: who,
                   forcedOver: forcedOver, now: Date())
    }
    public func removePin(id: Int64) throws { try removePin(id: id, now: Date()) }
}

extension ControlCommands {
    public func jobs() throws -> [JobRecord] { try jobs(night: nil, states: nil) }
    public func jobs(night: String?) throws -> [JobRecord] { try jobs(night: night, states: nil) }
    public func jobs(states: [JobState]?) throws -> [JobRecord] { try jobs(night: nil, states: states) }
    @discardableResult
    public func rerun(jobId: Int64, requestedBy who: String) throws -> JobRecord {
        try rerun(jobId: jobId, requestedBy: who, now: Date())
    }
    @discardableResult
    public func cancel(jobId: Int64, requestedBy who: String) throws -> JobRecord {
        try cancel(jobId: jobId, requestedBy: who, now: Date())
    }
    public func reprocess(night: String, recipe: String?, setup: Setup, force: Bool, requestedBy who: String) throws
        -> [JobRecord] {
        try reprocess(night: night, recipe: recipe, setup: setup, force: force, requestedBy: who, now: Date())
    }
}

extension JobHistory {
    public func record(timing t: JobTiming) throws { try record(timing: t, now: Date()) }
}

extension DaemonStateStore {
    public func setDaemonState(_ key: String, _ value: String) throws { try setDaemonState(key, value, now: Date()) }
}

extension AttemptBookkeeping {
    @discardableResult
    public func recordCrash(job: JobRecord, description: String, retryAfter: TimeInterval) throws -> JobRecord {
        try recordCrash(job: job, description: description, retryAfter: retryAfter, now: Date())
    }
    @discardableResult
    public func postpone(job: JobRecord, reason: String, retryAfter: TimeInterval) throws -> JobRecord {
        try postpone(job: job, reason: reason, retryAfter: retryAfter, now: Date())
    }
    @discardableResult
    public func recoverAbandonedJobs(deadOwners: Set<String>, excluding live: String?) throws -> (requeued: Int, failed: Int) {
        try recoverAbandonedJobs(deadOwners: deadOwners, excluding: live, now: Date())
    }
}
