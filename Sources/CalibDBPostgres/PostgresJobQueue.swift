import CalibCore
import CalibDB
import Foundation
import Logging
import PostgresNIO

/// The job queue on PostgreSQL: several hosts' workers share one queue.
///
/// The same contract as `CalibrationDatabase`'s queue (see `JobQueue`), and the
/// same tests (`JobQueueContractTests`) hold it to that:
/// - **claim**: one statement — a CTE picks the oldest runnable row with
///   `FOR UPDATE SKIP LOCKED` (concurrent claimers skip each other's rows
///   instead of queueing behind them), the `UPDATE` takes the lease and bumps
///   the attempt, and a second data-modifying CTE writes the history event;
/// - **heartbeat / complete / fail**: fenced by `lease_owner` *and* `attempts`,
///   so a worker that stalled past its lease, was reclaimed and came back
///   cannot record anything — `LeaseLostError`, exactly as on SQLite;
/// - **dedupe**: `INSERT … ON CONFLICT (dedupe_key) DO NOTHING` on a unique
///   index, race-free between hosts;
/// - **wake-ups**: jobs becoming runnable send `NOTIFY calibd_job`; a worker
///   may wait on `PostgresWakeUps` but must still poll, because a notification
///   is a hint (lost when no one listens, e.g. across a reconnect).
///
/// Times: the caller's `now` is used, as on SQLite, so tests can move time.
/// Hosts sharing a queue must therefore keep their clocks in step (NTP); a
/// lease should exceed the worst clock skew by a wide margin.
///
/// Calls block the calling thread (see `BlockingPostgresPool` for why that
/// cannot deadlock). The password never appears in logs or errors.
public final class PostgresJobQueue: JobQueue {
    /// The NOTIFY channel for "a job became runnable".
    public static let wakeUpChannel = "calibd_job"

    public let location: PostgresLocation
    let pool: BlockingPostgresPool

    /// Connects and applies pending migrations (once, whichever host gets there first).
    /// - Parameter logger: postgres-nio's logger; quiet (`.warning`) by default.
    public init(location: PostgresLocation, logger: Logger? = nil) throws {
        self.location = location
        var log = logger ?? Logger(label: "calibd.postgres")
        if logger == nil { log.logLevel = .warning }
        pool = BlockingPostgresPool(location: location, logger: log)
        try migrate()
    }

    /// Names of the migrations applied, in order.
    public func appliedMigrations() throws -> [String] {
        try pool.withConnection { c in
            try pool.query(c, "SELECT name FROM calibd_migration ORDER BY applied_order").map { try $0.decode(String.self) }
        }
    }

    private func migrate() throws {
        try pool.transaction { c in
            try pool.query(c, "SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLockKey))")
            try pool.execute(c, """
                CREATE TABLE IF NOT EXISTS calibd_migration (
                    name text PRIMARY KEY,
                    applied_order integer NOT NULL UNIQUE,
                    applied_at timestamptz NOT NULL DEFAULT now())
                """)
            let applied = Set(try pool.query(c, "SELECT name FROM calibd_migration").map { try $0.decode(String.self) })
            let known = Set(PostgresSchema.migrations.map(\.name))
            if let unknown = applied.subtracting(known).sorted().first {
                throw PostgresFailure(message: "the database has migration '\(unknown)', which this calibd does not know: it was made by a newer calibd", sqlState: nil)
            }
            for (index, migration) in PostgresSchema.migrations.enumerated() where !applied.contains(migration.name) {
                // Simple-query protocol would allow several statements at once; the extended one
                // postgres-nio uses does not, so a migration runs statement by statement.
                for statement in Self.statements(of: migration.sql) {
                    try pool.execute(c, statement)
                }
                try pool.query(c, "INSERT INTO calibd_migration (name, applied_order) VALUES (\(migration.name), \(index))")
            }
        }
    }

    /// Splits literal migration SQL at the semicolons ending statements (our migrations
    /// have no semicolons inside strings or function bodies; `--` comments are dropped).
    static func statements(of sql: String) -> [String] {
        let withoutComments = sql.split(separator: "\n", omittingEmptySubsequences: false).map { line -> Substring in
            guard let dash = line.range(of: "--") else { return line }
            return line[..<dash.lowerBound]
        }.joined(separator: "\n")
        return withoutComments.split(separator: ";").map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    // MARK: JobQueue

    public func ensureJob(_ planned: PlannedJob, now: Date) throws -> (job: JobRecord, created: Bool) {
        let key = planned.dedupeKey
        return try pool.transaction { c in
            let inserted = try pool.query(c, """
                INSERT INTO job (dedupe_key, recipe, recipe_version, parameters, instrument, night, setup, product_type,
                                 state, attempts, max_attempts, generation, created_at, updated_at)
                VALUES (\(key), \(planned.recipe), \(planned.recipeVersion), \(planned.parameters), \(planned.instrument),
                        \(planned.night), \(planned.setup), \(planned.productType.rawValue), 'queued', 0, \(planned.maxAttempts), 0,
                        \(now), \(now))
                ON CONFLICT (dedupe_key) DO NOTHING
                RETURNING \(unescaped: Self.jobColumns)
                """)
            guard let row = inserted.first else {
                // Someone (maybe another host, a moment ago) made this job: it is the answer.
                guard let existing = try pool.query(c, "SELECT \(unescaped: Self.jobColumns) FROM job WHERE dedupe_key = \(key)").first else {
                    throw PostgresFailure(message: "job with dedupe key vanished during ensureJob", sqlState: nil)
                }
                return (try Self.job(from: existing), false)
            }
            let job = try Self.job(from: row)
            let id = job.id!
            for frame in planned.inputs {
                try pool.query(c, "INSERT INTO job_input (job_id, frame_id) VALUES (\(id), \(frame.id)) ON CONFLICT DO NOTHING")
            }
            for (type, product) in planned.calibrations {
                let how = planned.associations[type]
                try pool.query(c, """
                    INSERT INTO job_calibration (job_id, product_type, product_id, basis, level, explanation)
                    VALUES (\(id), \(type.rawValue), \(product.id!), \(how?.basis.rawValue ?? "rules"), \(how?.level), \(how?.explanation ?? ""))
                    """)
            }
            try event(c, id, .queued, "\(planned.inputs.count) inputs", now)
            // The new input set replaces queued or waiting jobs of the same recipe, night and setup.
            let reason = "superseded by job \(id) (input set changed)"
            try pool.query(c, """
                WITH old AS (
                    UPDATE job SET state = 'superseded', reason = \(reason), updated_at = \(now)
                    WHERE recipe = \(planned.recipe) AND instrument = \(planned.instrument) AND night = \(planned.night)
                      AND setup = \(planned.setup) AND state IN ('queued', 'waiting') AND id <> \(id)
                    RETURNING id)
                INSERT INTO job_event (job_id, at, state, message) SELECT id, \(now), 'superseded', \(reason) FROM old
                """)
            try pool.execute(c, "NOTIFY \(Self.wakeUpChannel)")
            return (job, true)
        }
    }

    public func claimNextJob(owner: String, lease: TimeInterval, now: Date) throws -> JobRecord? {
        // One statement, so one round trip and an implicit transaction.
        try pool.withConnection { c in try claimNext(c, owner: owner, lease: lease, now: now) }
    }

    /// The claim statement, on a connection that may be inside a transaction. SKIP LOCKED: a row another
    /// claimer is taking right now is passed over, not waited for; ORDER BY id keeps the oldest first.
    private func claimNext(_ c: PostgresConnection, owner: String, lease: TimeInterval, now: Date) throws -> JobRecord? {
        let expires = now.addingTimeInterval(lease)
        let rows = try pool.query(c, """
                WITH next AS (
                    SELECT id FROM job
                    WHERE state = 'queued' AND (not_before IS NULL OR not_before <= \(now))
                    ORDER BY id
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED),
                claimed AS (
                    UPDATE job SET state = 'running', lease_owner = \(owner), lease_expires_at = \(expires),
                                   attempts = job.attempts + 1, started_at = \(now), updated_at = \(now)
                    FROM next WHERE job.id = next.id
                    RETURNING \(unescaped: Self.jobColumns(prefix: "job."))),
                history AS (
                    INSERT INTO job_event (job_id, at, state, message)
                    SELECT id, \(now), 'running', 'attempt ' || attempts || ' by ' || \(owner) FROM claimed)
                SELECT * FROM claimed
                """)
        return try rows.first.map(Self.job(from:))
    }

    /// `complete` and `claimNextJob` in one transaction: one commit, so one WAL flush per job cycle
    /// instead of two. Without products it is one statement (one round trip): the fenced UPDATE
    /// finishes the job, and the claim's CTE selects only when that UPDATE matched (`EXISTS` on its
    /// RETURNING), so a refused completion claims nothing and throws `LeaseLostError`. With
    /// products, the completion runs as in `complete` and the claim follows it before the COMMIT;
    /// a refusal throws inside the transaction, which is rolled back.
    public func completeAndClaimNext(job: JobRecord, outcome: JobOutcome, products drafts: [ProductDraft], owner: String,
                                     lease: TimeInterval, now: Date) throws -> (products: [ProductRecord], next: JobRecord?) {
        let id = job.id!
        if !drafts.isEmpty {
            return try pool.transaction { c in
                let products = try complete(c, job: job, outcome: outcome, products: drafts, now: now)
                return (products, try claimNext(c, owner: owner, lease: lease, now: now))
            }
        }
        let (state, reason) = Self.finish(outcome)
        let expires = now.addingTimeInterval(lease)
        let rows = try pool.withConnection { c in
            try pool.query(c, """
                WITH finished AS (
                    UPDATE job SET state = \(state.rawValue), reason = \(reason), lease_owner = NULL, lease_expires_at = NULL,
                                   finished_at = \(now), updated_at = \(now)
                    WHERE id = \(id) AND state = 'running' AND lease_owner = \(job.leaseOwner) AND attempts = \(job.attempts)
                    RETURNING id),
                finished_history AS (
                    INSERT INTO job_event (job_id, at, state, message)
                    SELECT id, \(now), \(state.rawValue), \(reason ?? "products ") FROM finished),
                next AS (
                    SELECT id FROM job
                    WHERE state = 'queued' AND (not_before IS NULL OR not_before <= \(now))
                      AND EXISTS (SELECT 1 FROM finished)
                    ORDER BY id
                    LIMIT 1
                    FOR UPDATE SKIP LOCKED),
                claimed AS (
                    UPDATE job SET state = 'running', lease_owner = \(owner), lease_expires_at = \(expires),
                                   attempts = job.attempts + 1, started_at = \(now), updated_at = \(now)
                    FROM next WHERE job.id = next.id
                    RETURNING \(unescaped: Self.jobColumns(prefix: "job."))),
                claimed_history AS (
                    INSERT INTO job_event (job_id, at, state, message)
                    SELECT id, \(now), 'running', 'attempt ' || attempts || ' by ' || \(owner) FROM claimed)
                SELECT finished.id AS finished_id, claimed.* FROM finished LEFT JOIN claimed ON true
                """)
        }
        // No row: the fenced UPDATE matched nothing. A row with a NULL id: finished, nothing runnable.
        guard let row = rows.first else { throw LeaseLostError(fencedOutOf: id) }
        let claimedId = try row.makeRandomAccess()["id"].decode(Int64?.self)
        return ([], try claimedId.map { _ in try Self.job(from: row) })
    }

    private static func finish(_ outcome: JobOutcome) -> (JobState, String?) {
        switch outcome {
        case .succeeded: return (.succeeded, nil)
        case .qcFailed(let why): return (.qcFailed, why)
        }
    }

    public func heartbeat(job: JobRecord, lease: TimeInterval, now: Date) throws {
        let id = job.id!
        let changed = try pool.withConnection { c in
            try pool.query(c, """
                UPDATE job SET lease_expires_at = \(now.addingTimeInterval(lease)), updated_at = \(now)
                WHERE id = \(id) AND state = 'running' AND lease_owner = \(job.leaseOwner) AND attempts = \(job.attempts)
                """).metadata.rows ?? 0
        }
        if changed == 0 { throw LeaseLostError(fencedOutOf: id) }
    }

    @discardableResult
    public func complete(job: JobRecord, outcome: JobOutcome, products drafts: [ProductDraft], now: Date) throws -> [ProductRecord] {
        let id = job.id!
        let (state, reason) = Self.finish(outcome)
        // Round trips are what a claim cycle costs on a loaded host (each one is two thread wake-ups
        // here and one in the server), so the fence is the finishing UPDATE itself: it matches only
        // while we hold the lease (owner and attempt), takes the row lock a reclaim would need, and
        // a stale worker's UPDATE matches nothing. Without products that one statement is the whole
        // completion (its own implicit transaction); with products it opens the transaction they join.
        if drafts.isEmpty {
            let finished = try pool.withConnection { c in
                try pool.query(c, """
                    WITH finished AS (
                        UPDATE job SET state = \(state.rawValue), reason = \(reason), lease_owner = NULL, lease_expires_at = NULL,
                                       finished_at = \(now), updated_at = \(now)
                        WHERE id = \(id) AND state = 'running' AND lease_owner = \(job.leaseOwner) AND attempts = \(job.attempts)
                        RETURNING id),
                    history AS (
                        INSERT INTO job_event (job_id, at, state, message)
                        SELECT id, \(now), \(state.rawValue), \(reason ?? "products ") FROM finished)
                    SELECT id FROM finished
                    """).first != nil
            }
            if !finished { throw LeaseLostError(fencedOutOf: id) }
            return []
        }
        return try pool.transaction { c in try complete(c, job: job, outcome: outcome, products: drafts, now: now) }
    }

    /// The completion with products, inside the caller's transaction; throws `LeaseLostError` when fenced out.
    private func complete(_ c: PostgresConnection, job: JobRecord, outcome: JobOutcome, products drafts: [ProductDraft],
                          now: Date) throws -> [ProductRecord] {
        let id = job.id!
        let (state, reason) = Self.finish(outcome)
        guard try pool.query(c, """
            UPDATE job SET state = \(state.rawValue), reason = \(reason), lease_owner = NULL, lease_expires_at = NULL,
                           finished_at = \(now), updated_at = \(now)
            WHERE id = \(id) AND state = 'running' AND lease_owner = \(job.leaseOwner) AND attempts = \(job.attempts)
            RETURNING id
            """).first != nil else {
            throw LeaseLostError(fencedOutOf: id)
        }
        let products = try drafts.map { try insert(c, product: $0, of: job, now: now) }
        try event(c, id, state, reason ?? "products \(products.map { String($0.id!) }.joined(separator: ", "))", now)
        return products
    }

    private func insert(_ c: PostgresConnection, product draft: ProductDraft, of job: JobRecord, now: Date) throws -> ProductRecord {
        let jobId = job.id!
        // Two jobs finishing products of one type/instrument/night/setup at once would each miss the
        // other's new row when superseding: serialise them on that group (released at commit).
        let group = [draft.productType.rawValue, job.instrument, job.night, job.setup].joined(separator: "|")
        try pool.query(c, "SELECT pg_advisory_xact_lock(hashtextextended(\(group), 0))")
        guard let row = try pool.query(c, """
            INSERT INTO product (job_id, product_type, instrument, night, setup, mjd, path, checksum, recipe, recipe_version,
                                 qc_passed, created_at)
            VALUES (\(jobId), \(draft.productType.rawValue), \(job.instrument), \(job.night), \(job.setup), \(draft.mjd),
                    \(draft.path), \(draft.checksum), \(job.recipe), \(job.recipeVersion), \(draft.qcPassed), \(now))
            RETURNING id
            """).first else { throw PostgresFailure(message: "product insert returned no id", sqlState: nil) }
        let productId = try row.decode(Int64.self)
        for metric in draft.metrics {
            let value: Double? = metric.value.isNaN ? nil : metric.value
            try pool.query(c, """
                INSERT INTO qc_metric (product_id, name, value, unit, range_min, range_max, passed)
                VALUES (\(productId), \(metric.name), \(value), \(metric.unit), \(metric.range?.min), \(metric.range?.max), \(metric.passed))
                """)
        }
        for used in draft.used {
            try pool.query(c, "INSERT INTO product_used (product_id, used_product_id) VALUES (\(productId), \(used)) ON CONFLICT DO NOTHING")
        }
        let older = try pool.query(c, """
            UPDATE product SET superseded_by = \(productId)
            WHERE product_type = \(draft.productType.rawValue) AND instrument = \(job.instrument) AND night = \(job.night)
              AND setup = \(job.setup) AND superseded_by IS NULL AND id <> \(productId)
            RETURNING id, job_id
            """)
        for old in older {
            let (oldId, oldJobId) = try old.decode((Int64, Int64).self)
            // A re-run replaces its own earlier product; another job's product retires that job.
            guard oldJobId != jobId else { continue }
            let reason = "product \(oldId) superseded by product \(productId) of job \(jobId)"
            try pool.query(c, """
                WITH retired AS (
                    UPDATE job SET state = 'superseded', reason = \(reason), updated_at = \(now)
                    WHERE id = \(oldJobId) AND state <> 'superseded' RETURNING id)
                INSERT INTO job_event (job_id, at, state, message) SELECT id, \(now), 'superseded', \(reason) FROM retired
                """)
        }
        var product = ProductRecord(
            id: productId, jobId: jobId, productType: draft.productType, instrument: job.instrument, night: job.night,
            setup: job.setup, mjd: draft.mjd, path: draft.path, checksum: draft.checksum, recipe: job.recipe,
            recipeVersion: job.recipeVersion, qcPassed: draft.qcPassed, createdAt: now)
        product.availability = .available
        return product
    }

    public func fail(job: JobRecord, error: String, retryAfter: TimeInterval, permanent: Bool, now: Date) throws {
        let id = job.id!
        let retryAt = now.addingTimeInterval(retryAfter)
        let requeueNote = "; retry after \(Int(retryAfter)) s"
        // One statement, atomic on its own: BEGIN/COMMIT around it would only add two round trips.
        let states = try pool.withConnection { c in
            try pool.query(c, """
                WITH failed AS (
                    UPDATE job SET
                        state = CASE WHEN attempts < max_attempts AND NOT \(permanent) THEN 'queued' ELSE 'failed' END,
                        not_before = CASE WHEN attempts < max_attempts AND NOT \(permanent) THEN \(retryAt) ELSE not_before END,
                        finished_at = CASE WHEN attempts < max_attempts AND NOT \(permanent) THEN finished_at ELSE \(now) END,
                        lease_owner = NULL, lease_expires_at = NULL, reason = \(error), updated_at = \(now)
                    WHERE id = \(id) AND state = 'running' AND lease_owner = \(job.leaseOwner) AND attempts = \(job.attempts)
                    RETURNING id, state, attempts),
                history AS (
                    INSERT INTO job_event (job_id, at, state, message)
                    SELECT id, \(now), state,
                           CASE WHEN state = 'queued' THEN 'attempt ' || attempts || ' failed: ' || \(error) || \(requeueNote)
                                ELSE \(error) END
                    FROM failed)
                SELECT state FROM failed
                """).map { try $0.decode(String.self) }
        }
        guard let state = states.first else { throw LeaseLostError(fencedOutOf: id) }
        if state == JobState.queued.rawValue { try notify() }
    }

    @discardableResult
    public func recoverLeases(now: Date, owner: String?) throws -> Int {
        let count = try pool.withConnection { c in
            try pool.query(c, """
                WITH lapsed AS (
                    UPDATE job SET state = 'queued', lease_owner = NULL, lease_expires_at = NULL, updated_at = \(now)
                    WHERE state = 'running' AND (lease_expires_at < \(now) OR lease_owner = \(owner))
                    RETURNING id, attempts),
                history AS (
                    INSERT INTO job_event (job_id, at, state, message)
                    SELECT id, \(now), 'queued', 'lease of attempt ' || attempts || ' lapsed; re-queued' FROM lapsed)
                SELECT count(*) FROM lapsed
                """).first.map { try $0.decode(Int.self) } ?? 0
        }
        if count > 0 { try notify() }
        return count
    }

    // MARK: Inspection (tests, benchmarks, calibctl later)

    public func job(id: Int64) throws -> JobRecord? {
        try pool.withConnection { c in
            try pool.query(c, "SELECT \(unescaped: Self.jobColumns) FROM job WHERE id = \(id)").first.map(Self.job(from:))
        }
    }

    /// A server setting's current value (`current_setting`), e.g. `fsync`, `synchronous_commit`:
    /// what a throughput figure depends on, for benchmarks to print beside it.
    public func serverSetting(_ name: String) throws -> String {
        try pool.withConnection { c in
            try pool.query(c, "SELECT current_setting(\(name))").first.map { try $0.decode(String.self) } ?? ""
        }
    }

    /// Every job, or those in `states`, oldest first.
    public func jobs(states: [JobState]? = nil) throws -> [JobRecord] {
        let names = (states ?? []).map(\.rawValue)
        return try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.jobColumns) FROM job WHERE \(states == nil) OR state = ANY(\(names)) ORDER BY id
                """).map(Self.job(from:))
        }
    }

    public func jobCounts() throws -> [JobState: Int] {
        try pool.withConnection { c in
            var counts: [JobState: Int] = [:]
            for row in try pool.query(c, "SELECT state, count(*) FROM job GROUP BY state") {
                let (state, n) = try row.decode((String, Int).self)
                if let state = JobState(rawValue: state) { counts[state] = n }
            }
            return counts
        }
    }

    /// A job's history as (state, message), oldest first.
    public func events(ofJob id: Int64) throws -> [(state: JobState, message: String?)] {
        try pool.withConnection { c in
            try pool.query(c, "SELECT state, message FROM job_event WHERE job_id = \(id) ORDER BY id").map { row in
                let (state, message) = try row.decode((String, String?).self)
                return (JobState(rawValue: state) ?? .failed, message)
            }
        }
    }

    // MARK: Helpers

    private func notify() throws {
        try pool.withConnection { c in try pool.execute(c, "NOTIFY \(Self.wakeUpChannel)") }
    }

    private func event(_ c: PostgresConnection, _ jobId: Int64, _ state: JobState, _ message: String?, _ at: Date) throws {
        try pool.query(c, "INSERT INTO job_event (job_id, at, state, message) VALUES (\(jobId), \(at), \(state.rawValue), \(message))")
    }

    static let jobColumns = jobColumns(prefix: "")

    static func jobColumns(prefix: String) -> String {
        ["id", "dedupe_key", "recipe", "recipe_version", "parameters", "instrument", "night", "setup", "product_type",
         "state", "reason", "attempts", "max_attempts", "generation", "not_before", "lease_owner", "lease_expires_at",
         "created_at", "updated_at", "started_at", "finished_at"].map { prefix + $0 }.joined(separator: ", ")
    }

    static func job(from row: PostgresRow) throws -> JobRecord {
        let r = row.makeRandomAccess()
        let typeName = try r["product_type"].decode(String.self)
        let stateName = try r["state"].decode(String.self)
        guard let type = ProductType(rawValue: typeName) else {
            throw PostgresFailure(message: "job has product type '\(typeName)', which this calibd does not know", sqlState: nil)
        }
        guard let state = JobState(rawValue: stateName) else {
            throw PostgresFailure(message: "job has state '\(stateName)', which this calibd does not know", sqlState: nil)
        }
        return JobRecord(
            storedId: try r["id"].decode(Int64.self), dedupeKey: try r["dedupe_key"].decode(String.self),
            recipe: try r["recipe"].decode(String.self), recipeVersion: try r["recipe_version"].decode(String.self),
            parameters: try r["parameters"].decode(String.self), instrument: try r["instrument"].decode(String.self),
            night: try r["night"].decode(String.self), setup: try r["setup"].decode(String.self),
            productType: type, state: state, reason: try r["reason"].decode(String?.self),
            attempts: try r["attempts"].decode(Int.self), maxAttempts: try r["max_attempts"].decode(Int.self),
            generation: try r["generation"].decode(Int.self), notBefore: try r["not_before"].decode(Date?.self),
            leaseOwner: try r["lease_owner"].decode(String?.self),
            leaseExpiresAt: try r["lease_expires_at"].decode(Date?.self),
            createdAt: try r["created_at"].decode(Date.self), updatedAt: try r["updated_at"].decode(Date.self),
            startedAt: try r["started_at"].decode(Date?.self), finishedAt: try r["finished_at"].decode(Date?.self))
    }
}
