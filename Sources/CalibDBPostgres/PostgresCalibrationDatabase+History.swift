import CalibCore
import CalibDB
import Foundation
import PostgresNIO

/// A job's history, crash and postponement bookkeeping, QC re-evaluation and
/// monitoring counts on PostgreSQL, with SQLite's rules and words
/// (`CalibrationDatabase+Jobs`, `+Crashes`, `+QC`, `+Monitoring`, `JobTiming`).
extension PostgresCalibrationDatabase {
    // MARK: JobHistory

    public func inputs(ofJob id: Int64) throws -> [FrameListing] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.frameColumns(prefix: "f.")),
                       array(SELECT p.path FROM frame_path p WHERE p.frame_id = f.id ORDER BY p.path) AS paths
                FROM frame f JOIN job_input i ON i.frame_id = f.id WHERE i.job_id = \(id) ORDER BY f.mjd_obs, f.id
                """).map { row in
                FrameListing(frame: try Self.frame(from: row), seenAt: try row.makeRandomAccess()["paths"].decode([String].self))
            }
        }
    }

    public func calibrationChoices(ofJob id: Int64) throws -> [CalibrationDatabase.CalibrationChoiceRecord] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT product_type, product_id, basis, level, explanation FROM job_calibration
                WHERE job_id = \(id) ORDER BY product_type COLLATE "C"
                """).compactMap { row in
                let (typeName, productId, basis, level, explanation) = try row.decode((String, Int64, String, Int?, String).self)
                guard let type = ProductType(rawValue: typeName) else { return nil }
                return CalibrationDatabase.CalibrationChoiceRecord(storedType: type, productId: productId, basis: basis, level: level,
                                                                   explanation: explanation)
            }
        }
    }

    public func calibrations(ofJob id: Int64) throws -> [ProductType: ProductRecord] {
        try pool.withConnection { c in
            var out: [ProductType: ProductRecord] = [:]
            for row in try pool.query(c, """
                SELECT j.product_type AS chosen_type, \(unescaped: Self.productColumns(prefix: "p."))
                FROM job_calibration j JOIN product p ON p.id = j.product_id WHERE j.job_id = \(id)
                """) {
                if let type = ProductType(rawValue: try row.makeRandomAccess()["chosen_type"].decode(String.self)) {
                    out[type] = try Self.product(from: row)
                }
            }
            return out
        }
    }

    public func events(ofJob id: Int64) throws -> [JobEventRecord] {
        try pool.withConnection { c in
            try pool.query(c, "SELECT id, job_id, at, state, message FROM job_event WHERE job_id = \(id) ORDER BY id").map { row in
                let (eventId, jobId, at, stateName, message) = try row.decode((Int64, Int64, Date, String, String?).self)
                guard let state = JobState(rawValue: stateName) else {
                    throw PostgresFailure(message: "job event has state '\(stateName)', which this calibd does not know", sqlState: nil)
                }
                return JobEventRecord(storedId: eventId, jobId: jobId, at: at, state: state, message: message)
            }
        }
    }

    public func record(timing t: JobTiming, now: Date) throws {
        try pool.withConnection { c in
            try pool.query(c, """
                INSERT INTO job_attempt_timing (job_id, attempt, wall_seconds, process_seconds, database_seconds, read_seconds,
                                                compute_seconds, write_seconds, fsync_seconds, peak_rss_bytes, recorded_at)
                VALUES (\(t.jobId), \(t.attempt), \(max(0, t.wallSeconds)), \(max(0, t.processSeconds)), \(max(0, t.databaseSeconds)),
                        \(max(0, t.readSeconds)), \(max(0, t.computeSeconds)), \(max(0, t.writeSeconds)), \(max(0, t.fsyncSeconds)),
                        \(t.peakRSSBytes), \(now))
                ON CONFLICT (job_id, attempt) DO UPDATE SET
                    wall_seconds = excluded.wall_seconds, process_seconds = excluded.process_seconds,
                    database_seconds = excluded.database_seconds, read_seconds = excluded.read_seconds,
                    compute_seconds = excluded.compute_seconds, write_seconds = excluded.write_seconds,
                    fsync_seconds = excluded.fsync_seconds, peak_rss_bytes = excluded.peak_rss_bytes, recorded_at = excluded.recorded_at
                """)
        }
    }

    public func timings(ofJob id: Int64?) throws -> [JobTiming] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT job_id, attempt, wall_seconds, process_seconds, database_seconds, read_seconds, compute_seconds,
                       write_seconds, fsync_seconds, peak_rss_bytes
                FROM job_attempt_timing WHERE \(id == nil) OR job_id = \(id) ORDER BY job_id, attempt
                """).map { row in
                let r = row.makeRandomAccess()
                return JobTiming(jobId: try r["job_id"].decode(Int64.self), attempt: try r["attempt"].decode(Int.self),
                                 wallSeconds: try r["wall_seconds"].decode(Double.self),
                                 processSeconds: try r["process_seconds"].decode(Double.self),
                                 databaseSeconds: try r["database_seconds"].decode(Double.self),
                                 readSeconds: try r["read_seconds"].decode(Double.self),
                                 computeSeconds: try r["compute_seconds"].decode(Double.self),
                                 writeSeconds: try r["write_seconds"].decode(Double.self),
                                 fsyncSeconds: try r["fsync_seconds"].decode(Double.self),
                                 peakRSSBytes: try r["peak_rss_bytes"].decode(Int64?.self))
            }
        }
    }

    // MARK: AttemptBookkeeping

    public func recordCrash(job: JobRecord, description: String, retryAfter: TimeInterval, now: Date) throws -> JobRecord {
        try pool.transaction { c in
            guard var current = try fencedJob(c, job) else { throw LeaseLostError(fencedOutOf: job.id!) }
            try endCrashedAttempt(c, &current, description: description, retryAfter: retryAfter, now: now)
            return current
        }
    }

    public func postpone(job: JobRecord, reason: String, retryAfter: TimeInterval, now: Date) throws -> JobRecord {
        try pool.transaction { c in
            guard var current = try fencedJob(c, job) else { throw LeaseLostError(fencedOutOf: job.id!) }
            let attempt = current.attempts
            current.attempts = max(current.attempts - 1, 0)
            current.state = .queued
            current.reason = reason
            current.leaseOwner = nil
            current.leaseExpiresAt = nil
            current.notBefore = now.addingTimeInterval(retryAfter)
            current.updatedAt = now
            try writeJob(c, current)
            try writeEvent(c, current.id!, .queued,
                           "attempt \(attempt) postponed (not counted): \(reason); retry after \(Int(retryAfter)) s", now)
            return current
        }
    }

    public func crashCount(ofJob id: Int64) throws -> Int {
        try pool.withConnection { c in try crashCount(c, id) }
    }

    public func postponementCount(ofJob id: Int64) throws -> Int {
        // ILIKE: SQLite's LIKE ignores ASCII case, PostgreSQL's does not.
        try pool.withConnection { c in
            try pool.query(c, "SELECT count(*) FROM job_event WHERE job_id = \(id) AND message ILIKE 'attempt % postponed%'")
                .first.map { try $0.decode(Int.self) } ?? 0
        }
    }

    public func recoverAbandonedJobs(deadOwners: Set<String>, excluding live: String?, now: Date) throws -> (requeued: Int, failed: Int) {
        try pool.transaction { c in
            let running = try pool.query(c, """
                SELECT \(unescaped: PostgresJobQueue.jobColumns) FROM job WHERE state = 'running' ORDER BY id FOR UPDATE
                """).map(PostgresJobQueue.job(from:))
            var requeued = 0, failed = 0
            for var job in running where job.leaseOwner != live {
                let dead = job.leaseOwner.map { deadOwners.contains($0) } ?? true
                guard dead || (job.leaseExpiresAt ?? .distantPast) < now else { continue }
                let why = dead ? "the process holding attempt \(job.attempts) (\(job.leaseOwner ?? "none")) is gone"
                               : "the lease of attempt \(job.attempts) lapsed (its process stopped reporting)"
                try endCrashedAttempt(c, &job, description: why, retryAfter: 0, now: now)
                if job.state == .failed { failed += 1 } else { requeued += 1 }
            }
            if requeued > 0 { try pool.execute(c, "NOTIFY \(PostgresJobQueue.wakeUpChannel)") }
            return (requeued, failed)
        }
    }

    /// The running job as `job` holds it (same owner and attempt), locked; nil when fenced out.
    private func fencedJob(_ c: PostgresConnection, _ job: JobRecord) throws -> JobRecord? {
        try pool.query(c, """
            SELECT \(unescaped: PostgresJobQueue.jobColumns) FROM job
            WHERE id = \(job.id!) AND state = 'running' AND lease_owner = \(job.leaseOwner) AND attempts = \(job.attempts)
            FOR UPDATE
            """).first.map(PostgresJobQueue.job(from:))
    }

    private func crashCount(_ c: PostgresConnection, _ id: Int64) throws -> Int {
        try pool.query(c, "SELECT count(*) FROM job_event WHERE job_id = \(id) AND message ILIKE 'attempt % crashed:%'")
            .first.map { try $0.decode(Int.self) } ?? 0
    }

    /// As SQLite's `endCrashedAttempt`: an event naming the crash, then re-queued, or failed at `max_attempts`.
    private func endCrashedAttempt(_ c: PostgresConnection, _ job: inout JobRecord, description: String,
                                   retryAfter: TimeInterval, now: Date) throws {
        let crashes = try crashCount(c, job.id!) + 1
        job.leaseOwner = nil
        job.leaseExpiresAt = nil
        job.updatedAt = now
        if job.attempts < job.maxAttempts {
            job.state = .queued
            job.reason = description
            job.notBefore = now.addingTimeInterval(retryAfter)
            try writeJob(c, job)
            try writeEvent(c, job.id!, .queued, "attempt \(job.attempts) crashed: \(description); retry after \(Int(retryAfter)) s", now)
        } else {
            job.state = .failed
            job.reason = crashes > 1 ? "crashed \(crashes) times: \(description)" : "crashed: \(description)"
            job.finishedAt = now
            try writeJob(c, job)
            try writeEvent(c, job.id!, .failed, "attempt \(job.attempts) crashed: \(description); \(job.reason!)", now)
        }
    }

    // MARK: QC re-evaluation

    public func reevaluateQC(products: [ProductRecord], ranges: (ProductRecord) -> [String: QCRange], now: Date) throws
        -> [QCReevaluation] {
        var changes: [QCReevaluation] = []
        for product in products {
            let configured = ranges(product)
            let change: QCReevaluation? = try pool.transaction { c in
                let metrics = try pool.query(c, """
                    SELECT name, value FROM qc_metric WHERE product_id = \(product.id!) ORDER BY name COLLATE "C" FOR UPDATE
                    """).map { try $0.decode((String, Double?).self) }
                var failing: [String] = []
                for (name, value) in metrics {
                    let range = configured[name]
                    let passed = range.map { r in value.map { r.contains($0) } ?? false } ?? true
                    if !passed {
                        failing.append("\(name) = \(value.map { String(format: "%.4g", $0) } ?? "NaN") outside \(range!)")
                    }
                    try pool.query(c, """
                        UPDATE qc_metric SET range_min = \(range?.min), range_max = \(range?.max), passed = \(passed)
                        WHERE product_id = \(product.id!) AND name = \(name)
                        """)
                }
                let passed = failing.isEmpty
                guard passed != product.qcPassed else { return nil }
                try pool.query(c, "UPDATE product SET qc_passed = \(passed) WHERE id = \(product.id!)")
                if var job = try pool.query(c, "SELECT \(unescaped: PostgresJobQueue.jobColumns) FROM job WHERE id = \(product.jobId) FOR UPDATE")
                    .first.map(PostgresJobQueue.job(from:)), job.state == .succeeded || job.state == .qcFailed {
                    job.state = passed ? .succeeded : .qcFailed
                    job.reason = passed ? "QC re-evaluated: passes the current ranges" : "QC re-evaluated: " + failing.joined(separator: "; ")
                    job.updatedAt = now
                    try writeJob(c, job)
                    try writeEvent(c, job.id!, job.state, job.reason, now)
                }
                return QCReevaluation(changed: product.id!, type: product.productType, night: product.night,
                                      wasPassed: product.qcPassed, isPassed: passed, failing: failing)
            }
            if let change { changes.append(change) }
        }
        return changes
    }

    // MARK: RegistryMonitoring

    public func frameCountsByTypeAndStatus() throws -> [(type: String, status: String, count: Int)] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT frame_type COLLATE "C", status COLLATE "C", count(*) FROM frame GROUP BY 1, 2 ORDER BY 1, 2
                """).map { row in
                let (type, status, n) = try row.decode((String, String, Int).self)
                return (type, status, n)
            }
        }
    }

    public func currentProductCountsByTypeAndQC() throws -> [(type: String, passed: Bool, count: Int)] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT product_type COLLATE "C", qc_passed, count(*) FROM product WHERE superseded_by IS NULL
                GROUP BY 1, 2 ORDER BY 1, 2
                """).map { row in
                let (type, passed, n) = try row.decode((String, Bool, Int).self)
                return (type, passed, n)
            }
        }
    }

    public func jobDurations() throws -> [(recipe: String, seconds: Double)] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: PostgresJobQueue.jobColumns) FROM job
                WHERE started_at IS NOT NULL AND finished_at IS NOT NULL ORDER BY id
                """).map(PostgresJobQueue.job(from:)).map { ($0.recipe, $0.finishedAt!.timeIntervalSince($0.startedAt!)) }
        }
    }
}
