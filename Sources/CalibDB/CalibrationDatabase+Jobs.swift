import CalibCore
import Foundation
import GRDB

/// A request to run a recipe on an input set, as the scheduler plans it.
public struct PlannedJob: Sendable {
    public var recipe: String
    public var recipeVersion: String
    /// Canonical JSON of the parameters.
    public var parameters: String
    public var instrument: String
    public var night: String
    public var setup: String
    public var productType: ProductType
    public var inputs: [FrameSummary]
    /// Upstream calibrations chosen at planning time, by type.
    public var calibrations: [ProductType: ProductRecord]
    /// How each was chosen (basis, level, explanation), by type.
    public var associations: [ProductType: AssociationResult] = [:]
    public var maxAttempts: Int

    public init(recipe: String, recipeVersion: String, parameters: String, instrument: String, night: String,
                setup: String, productType: ProductType, inputs: [FrameSummary],
                calibrations: [ProductType: ProductRecord] = [:], maxAttempts: Int = 3) {
        self.recipe = recipe; self.recipeVersion = recipeVersion; self.parameters = parameters
        self.instrument = instrument; self.night = night; self.setup = setup; self.productType = productType
        self.inputs = inputs; self.calibrations = calibrations; self.maxAttempts = maxAttempts
    }

    /// recipe + version + parameters + sorted input checksums + the checksums
    /// of the upstream calibrations: the job's identity. A new master bias
    /// therefore makes new jobs of everything that used the old one.
    public var dedupeKey: String {
        let upstream = calibrations.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue)=\($0.value.checksum)" }
        return ([recipe, recipeVersion, parameters, instrument] + inputs.map(\.checksum).sorted() + upstream).joined(separator: "|")
    }
}

/// How a finished job ended, as the runner reports it.
public enum JobOutcome: Sendable {
    case succeeded
    case qcFailed(String)
}

/// A product as the runner wrote it, before it has an id.
public struct ProductDraft: Sendable {
    public var productType: ProductType
    public var mjd: Double
    public var path: String
    public var checksum: String
    public var qcPassed: Bool
    public var metrics: [QCMetricDraft]
    /// Products this one was made with.
    public var used: [Int64]

    public init(productType: ProductType, mjd: Double, path: String, checksum: String, qcPassed: Bool,
                metrics: [QCMetricDraft], used: [Int64] = []) {
        self.productType = productType; self.mjd = mjd; self.path = path; self.checksum = checksum
        self.qcPassed = qcPassed; self.metrics = metrics; self.used = used
    }
}

public struct QCMetricDraft: Sendable, Equatable {
    public var name: String
    public var value: Double
    public var unit: String
    public var range: QCRange?
    /// A metric without a configured range is informational and never fails the product.
    public var passed: Bool { range.map { $0.contains(value) } ?? true }

    public init(name: String, value: Double, unit: String, range: QCRange?) {
        self.name = name; self.value = value; self.unit = unit; self.range = range
    }
}

/// Raised when a worker reports on a job it no longer owns (its lease
/// expired and another worker, or a restarted daemon, took the job over).
public struct LeaseLostError: Error, CustomStringConvertible {
    public let jobId: Int64
    public var description: String { "job \(jobId): lease lost; the result is discarded" }
}

extension CalibrationDatabase {
    /// Creates the job unless the same work (same dedupe key) exists already.
    /// Queued or waiting jobs of the same recipe, night and setup with other
    /// inputs are superseded: the new input set replaces them.
    @discardableResult
    public func ensureJob(_ planned: PlannedJob, now: Date = Date()) throws -> (job: JobRecord, created: Bool) {
        try write { db in
            if let existing = try JobRecord.filter(JobRecord.Columns.dedupeKey == planned.dedupeKey).fetchOne(db) {
                return (existing, false)
            }
            let older = try JobRecord
                .filter(JobRecord.Columns.recipe == planned.recipe && JobRecord.Columns.instrument == planned.instrument
                        && JobRecord.Columns.night == planned.night && JobRecord.Columns.setup == planned.setup
                        && [JobState.queued.rawValue, JobState.waiting.rawValue].contains(JobRecord.Columns.state))
                .fetchAll(db)
            var job = JobRecord(
                id: nil, dedupeKey: planned.dedupeKey, recipe: planned.recipe, recipeVersion: planned.recipeVersion,
                parameters: planned.parameters, instrument: planned.instrument, night: planned.night,
                setup: planned.setup, productType: planned.productType, state: .queued, reason: nil, attempts: 0,
                maxAttempts: planned.maxAttempts, generation: 0, notBefore: nil, leaseOwner: nil, leaseExpiresAt: nil,
                createdAt: now, updatedAt: now, startedAt: nil, finishedAt: nil)
            try job.insert(db)
            for frame in planned.inputs { try JobInputRecord(jobId: job.id!, frameId: frame.id).insert(db) }
            for (type, product) in planned.calibrations {
                let how = planned.associations[type]
                try db.execute(sql: """
                    INSERT INTO job_calibration (job_id, product_type, product_id, basis, level, explanation) VALUES (?, ?, ?, ?, ?, ?)
                    """, arguments: [job.id!, type.rawValue, product.id!, how?.basis.rawValue ?? "rules", how?.level, how?.explanation ?? ""])
            }
            try Self.event(db, job.id!, .queued, "\(planned.inputs.count) inputs", now)
            for var old in older {
                old.state = .superseded
                old.reason = "superseded by job \(job.id!) (input set changed)"
                old.updatedAt = now
                try old.update(db)
                try Self.event(db, old.id!, .superseded, old.reason, now)
            }
            return (job, true)
        }
    }

    /// Claims the oldest runnable job for `owner` with a lease until `now + lease`.
    public func claimNextJob(owner: String, lease: TimeInterval, now: Date = Date()) throws -> JobRecord? {
        try write { db in try Self.claimNext(db, owner: owner, lease: lease, now: now) }
    }

    /// Records `job`'s outcome as `complete` does and claims the next runnable
    /// job as `claimNextJob` does, in one transaction (one commit per cycle).
    /// A refused completion throws `LeaseLostError` before anything is claimed,
    /// and the transaction is rolled back.
    public func completeAndClaimNext(job: JobRecord, outcome: JobOutcome, products drafts: [ProductDraft], owner: String,
                                     lease: TimeInterval, now: Date = Date()) throws -> (products: [ProductRecord], next: JobRecord?) {
        try write { db in
            let products = try Self.complete(db, job: job, outcome: outcome, products: drafts, now: now)
            return (products, try Self.claimNext(db, owner: owner, lease: lease, now: now))
        }
    }

    private static func claimNext(_ db: Database, owner: String, lease: TimeInterval, now: Date) throws -> JobRecord? {
        guard var job = try JobRecord
            .filter(JobRecord.Columns.state == JobState.queued.rawValue)
            .filter(JobRecord.Columns.notBefore == nil || JobRecord.Columns.notBefore <= now)
            .order(JobRecord.Columns.id)
            .fetchOne(db)
        else { return nil }
        job.state = .running
        job.leaseOwner = owner
        job.leaseExpiresAt = now.addingTimeInterval(lease)
        job.attempts += 1
        job.startedAt = now
        job.updatedAt = now
        try job.update(db)
        try Self.event(db, job.id!, .running, "attempt \(job.attempts) by \(owner)", now)
        return job
    }

    /// Extends a running job's lease; throws `LeaseLostError` if it is no longer ours.
    public func heartbeat(job: JobRecord, lease: TimeInterval, now: Date = Date()) throws {
        try write { db in
            try db.execute(
                sql: "UPDATE job SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'running' AND lease_owner = ? AND attempts = ?",
                arguments: [now.addingTimeInterval(lease), now, job.id!, job.leaseOwner, job.attempts])
            if db.changesCount == 0 { throw LeaseLostError(jobId: job.id!) }
        }
    }

    /// Records a finished job and its product in one transaction, fenced by
    /// lease owner and attempt. Older products of the same type, instrument,
    /// night and setup are superseded by this one.
    @discardableResult
    public func complete(job: JobRecord, outcome: JobOutcome, products drafts: [ProductDraft], now: Date = Date()) throws -> [ProductRecord] {
        try write { db in try Self.complete(db, job: job, outcome: outcome, products: drafts, now: now) }
    }

    private static func complete(_ db: Database, job: JobRecord, outcome: JobOutcome, products drafts: [ProductDraft],
                                 now: Date) throws -> [ProductRecord] {
        let current = try JobRecord.fetchOne(db, key: job.id!)
        guard let current, current.state == .running, current.leaseOwner == job.leaseOwner, current.attempts == job.attempts else {
            throw LeaseLostError(jobId: job.id!)
        }
        let products = try drafts.map { try Self.insert(db, product: $0, of: job, now: now) }
        var finished = current
        switch outcome {
        case .succeeded: finished.state = .succeeded; finished.reason = nil
        case .qcFailed(let why): finished.state = .qcFailed; finished.reason = why
        }
        finished.leaseOwner = nil
        finished.leaseExpiresAt = nil
        finished.finishedAt = now
        finished.updatedAt = now
        try finished.update(db)
        try Self.event(db, job.id!, finished.state, finished.reason ?? "products \(products.map { String($0.id!) }.joined(separator: ", "))", now)
        return products
    }

    private static func insert(_ db: Database, product draft: ProductDraft, of job: JobRecord, now: Date) throws -> ProductRecord {
            var product = ProductRecord(
                jobId: job.id!, productType: draft.productType, instrument: job.instrument, night: job.night,
                setup: job.setup, mjd: draft.mjd, path: draft.path, checksum: draft.checksum, recipe: job.recipe,
                recipeVersion: job.recipeVersion, qcPassed: draft.qcPassed, createdAt: now)
            try product.insert(db)
            for metric in draft.metrics {
                try QCMetricRecord(
                    productId: product.id!, name: metric.name, value: metric.value.isNaN ? nil : metric.value,
                    unit: metric.unit, rangeMin: metric.range?.min, rangeMax: metric.range?.max, passed: metric.passed
                ).insert(db)
            }
            for used in draft.used {
                try db.execute(sql: "INSERT OR IGNORE INTO product_used (product_id, used_product_id) VALUES (?, ?)", arguments: [product.id!, used])
            }
            let older = try ProductRecord
                .filter(ProductRecord.Columns.productType == draft.productType.rawValue
                        && ProductRecord.Columns.instrument == job.instrument && ProductRecord.Columns.night == job.night
                        && ProductRecord.Columns.setup == job.setup && ProductRecord.Columns.supersededBy == nil
                        && ProductRecord.Columns.id != product.id!)
                .fetchAll(db)
            for var old in older {
                old.supersededBy = product.id
                try old.update(db)
                // A re-run replaces its own earlier product; another job's product retires that job.
                if old.jobId != job.id!, let oldJob = try JobRecord.fetchOne(db, key: old.jobId), oldJob.state != .superseded {
                    var updated = oldJob
                    updated.state = .superseded
                    updated.reason = "product \(old.id!) superseded by product \(product.id!) of job \(job.id!)"
                    updated.updatedAt = now
                    try updated.update(db)
                    try Self.event(db, updated.id!, .superseded, updated.reason, now)
                }
            }
            return product
    }

    /// Records a failed attempt: re-queued with back-off while attempts
    /// remain, else failed for good with the error.
    /// - Parameter permanent: the error will recur on every attempt; fail now instead of re-queueing.
    public func fail(job: JobRecord, error: String, retryAfter: TimeInterval, permanent: Bool = false, now: Date = Date()) throws {
        try write { db in
            guard var current = try JobRecord.fetchOne(db, key: job.id!), current.state == .running,
                  current.leaseOwner == job.leaseOwner, current.attempts == job.attempts
            else { throw LeaseLostError(jobId: job.id!) }
            current.leaseOwner = nil
            current.leaseExpiresAt = nil
            current.updatedAt = now
            current.reason = error
            if current.attempts < current.maxAttempts && !permanent {
                current.state = .queued
                current.notBefore = now.addingTimeInterval(retryAfter)
                try current.update(db)
                try Self.event(db, current.id!, .queued, "attempt \(current.attempts) failed: \(error); retry after \(Int(retryAfter)) s", now)
            } else {
                current.state = .failed
                current.finishedAt = now
                try current.update(db)
                try Self.event(db, current.id!, .failed, error, now)
            }
        }
    }

    /// Re-queues running jobs whose lease expired (their worker died).
    /// With `owner`, re-queues that owner's jobs at once (a restarted daemon
    /// reclaiming its own work after a crash).
    @discardableResult
    public func recoverLeases(now: Date = Date(), owner: String? = nil) throws -> Int {
        try write { db in
            var jobs = try JobRecord.filter(JobRecord.Columns.state == JobState.running.rawValue).fetchAll(db)
            jobs = jobs.filter { job in
                (owner != nil && job.leaseOwner == owner) || (job.leaseExpiresAt ?? .distantPast) < now
            }
            for var job in jobs {
                job.state = .queued
                job.leaseOwner = nil
                job.leaseExpiresAt = nil
                job.updatedAt = now
                try job.update(db)
                try Self.event(db, job.id!, .queued, "lease of attempt \(job.attempts) lapsed; re-queued", now)
            }
            return jobs.count
        }
    }

    public func job(id: Int64) throws -> JobRecord? {
        try read { db in try JobRecord.fetchOne(db, key: id) }
    }

    public func jobs(night: String? = nil, states: [JobState]? = nil) throws -> [JobRecord] {
        try read { db in
            var request = JobRecord.all()
            if let night { request = request.filter(JobRecord.Columns.night == night) }
            if let states { request = request.filter(states.map(\.rawValue).contains(JobRecord.Columns.state)) }
            return try request.order(JobRecord.Columns.id).fetchAll(db)
        }
    }

    /// The input frames of a job, in time order.
    public func inputs(ofJob id: Int64) throws -> [FrameListing] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT f.*, (SELECT json_group_array(p.path) FROM frame_path p WHERE p.frame_id = f.id) AS paths
                FROM frame f JOIN job_input i ON i.frame_id = f.id WHERE i.job_id = ? ORDER BY f.mjd_obs, f.id
                """, arguments: [id]).map { row in
                FrameListing(frame: try FrameRecord(row: row),
                             paths: FrameListing.decodePaths(row["paths"]))
            }
        }
    }

    /// How each upstream calibration of a job was chosen, as recorded at planning.
    public struct CalibrationChoiceRecord: Sendable, Codable, Equatable {
        public var type: ProductType
        public var productId: Int64
        public var basis: String
        public var level: Int?
        public var explanation: String
    }

    public func calibrationChoices(ofJob id: Int64) throws -> [CalibrationChoiceRecord] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job_calibration WHERE job_id = ? ORDER BY product_type", arguments: [id]).compactMap { row in
                guard let type = ProductType(rawValue: row["product_type"]) else { return nil }
                return CalibrationChoiceRecord(type: type, productId: row["product_id"], basis: row["basis"], level: row["level"],
                                               explanation: row["explanation"])
            }
        }
    }

    /// The upstream calibrations a job was planned with.
    public func calibrations(ofJob id: Int64) throws -> [ProductType: ProductRecord] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT product_type, product_id FROM job_calibration WHERE job_id = ?", arguments: [id])
            var out: [ProductType: ProductRecord] = [:]
            for row in rows {
                if let type = ProductType(rawValue: row["product_type"]), let product = try ProductRecord.fetchOne(db, key: row["product_id"] as Int64) {
                    out[type] = product
                }
            }
            return out
        }
    }

    public func events(ofJob id: Int64) throws -> [JobEventRecord] {
        try read { db in try JobEventRecord.filter(Column("job_id") == id).order(Column("id")).fetchAll(db) }
    }

    public func jobCounts() throws -> [JobState: Int] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM job GROUP BY state")
            var counts: [JobState: Int] = [:]
            for row in rows { if let state = JobState(rawValue: row["state"]) { counts[state] = row["n"] } }
            return counts
        }
    }

    static func event(_ db: Database, _ jobId: Int64, _ state: JobState, _ message: String?, _ at: Date) throws {
        var event = JobEventRecord(id: nil, jobId: jobId, at: at, state: state, message: message)
        try event.insert(db)
    }
}
