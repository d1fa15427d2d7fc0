/// The PostgreSQL schema: one ordered list of migrations, literal SQL only.
///
/// A shipped migration never changes; a change is a new entry at the end.
/// Each runs in its own transaction under an advisory lock, so several
/// daemons starting at once against one server migrate exactly once (the
/// others wait on the lock, then find nothing pending).
///
/// Kept deliberately close to the SQLite schema (`CalibDB/Schema.swift`)
/// for the tables they share, so the contract tests compare like with like.
/// Differences, and why:
/// - timestamps are `timestamptz` (SQLite stores them as text/real);
/// - `job_input.frame_id` has no foreign key yet: frames are not on
///   PostgreSQL in this slice (#16 registry work), only the queue is;
/// - product and frame type names are not checked here: main is moving those
///   checks to lookup tables (`v5-type-tables`); the same lookup tables come
///   to PostgreSQL with the registry, rather than a second list to keep in step.
enum PostgresSchema {
    struct Migration: Sendable {
        let name: String
        let sql: String
    }

    /// The key of the advisory lock held while migrating (any fixed 64-bit number; "calibd-m").
    static let migrationLockKey: Int64 = 0x63_61_6c_69_62_64_2d_6d

    static let migrations: [Migration] = [
        Migration(name: "v1-job-queue", sql: """
            CREATE TABLE job (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                -- recipe + version + parameters + sorted input checksums + upstream checksums
                dedupe_key text NOT NULL,
                recipe text NOT NULL,
                recipe_version text NOT NULL,
                parameters text NOT NULL,
                instrument text NOT NULL,
                night text NOT NULL,
                setup text NOT NULL,
                product_type text NOT NULL,
                state text NOT NULL CHECK (state IN
                    ('waiting', 'queued', 'running', 'succeeded', 'qc_failed', 'failed', 'cancelled', 'superseded')),
                reason text,
                attempts integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                max_attempts integer NOT NULL DEFAULT 3 CHECK (max_attempts >= 1),
                generation integer NOT NULL DEFAULT 0,
                not_before timestamptz,
                lease_owner text,
                lease_expires_at timestamptz,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                started_at timestamptz,
                finished_at timestamptz,
                -- A running job always has a lease, and only a running job has one: fencing relies on it.
                CONSTRAINT job_lease_iff_running
                    CHECK ((state = 'running') = (lease_owner IS NOT NULL AND lease_expires_at IS NOT NULL))
            );
            -- The same work is never queued twice, whatever its state (as on SQLite).
            CREATE UNIQUE INDEX job_dedupe ON job (dedupe_key);
            -- Claims scan only runnable rows, oldest first.
            CREATE INDEX job_runnable ON job (id) WHERE state = 'queued';
            -- Lease recovery scans only running rows.
            CREATE INDEX job_leases ON job (lease_expires_at) WHERE state = 'running';
            CREATE INDEX job_by_night ON job (night, recipe, setup);

            CREATE TABLE job_input (
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                frame_id bigint NOT NULL,
                PRIMARY KEY (job_id, frame_id)
            );

            CREATE TABLE job_event (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                at timestamptz NOT NULL,
                state text NOT NULL,
                message text
            );
            CREATE INDEX job_event_by_job ON job_event (job_id, at);

            CREATE TABLE product (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                job_id bigint NOT NULL REFERENCES job (id),
                product_type text NOT NULL,
                instrument text NOT NULL,
                night text NOT NULL,
                setup text NOT NULL,
                mjd double precision NOT NULL,
                path text NOT NULL UNIQUE,
                checksum text NOT NULL,
                recipe text NOT NULL,
                recipe_version text NOT NULL,
                qc_passed boolean NOT NULL,
                superseded_by bigint REFERENCES product (id),
                created_at timestamptz NOT NULL
            );
            CREATE INDEX product_lookup ON product (product_type, instrument, night, setup) WHERE superseded_by IS NULL;

            CREATE TABLE job_calibration (
                job_id bigint NOT NULL REFERENCES job (id) ON DELETE CASCADE,
                product_type text NOT NULL,
                product_id bigint NOT NULL REFERENCES product (id),
                basis text NOT NULL DEFAULT 'rules',
                level integer,
                explanation text NOT NULL DEFAULT '',
                PRIMARY KEY (job_id, product_type)
            );

            CREATE TABLE product_used (
                product_id bigint NOT NULL REFERENCES product (id) ON DELETE CASCADE,
                used_product_id bigint NOT NULL REFERENCES product (id),
                PRIMARY KEY (product_id, used_product_id)
            );

            CREATE TABLE qc_metric (
                product_id bigint NOT NULL REFERENCES product (id) ON DELETE CASCADE,
                name text NOT NULL,
                value double precision,  -- NULL when it could not be measured (NaN)
                unit text NOT NULL DEFAULT '',
                range_min double precision,
                range_max double precision,
                passed boolean NOT NULL,
                PRIMARY KEY (product_id, name)
            );
            """),
    ]
}
