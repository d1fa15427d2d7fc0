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
/// - `job_input.frame_id` and the type columns got their foreign keys in
///   `v2-registry` as `NOT VALID` (checked for new rows only), since v1 held
///   the queue alone;
/// - booleans are `boolean` (SQLite: 0/1 with a CHECK);
/// - `control_request` is not here: nothing reads or writes it on SQLite either.
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
        // The calibration registry (#16): frames, the rest of products (references, availability),
        // pins and the daemon's state, mirroring SQLite's v1–v9 for those tables. Type names are
        // rows of lookup tables as on SQLite (`v5-type-tables`), written out here, never taken from
        // the Swift enums; a later type is an INSERT-only migration on both backends.
        Migration(name: "v2-registry", sql: """
            CREATE TABLE frame_type_name (name text PRIMARY KEY);
            CREATE TABLE product_type_name (name text PRIMARY KEY);
            INSERT INTO frame_type_name (name) VALUES
                ('BIAS'), ('DARK'), ('FLAT'), ('ORDERDEF'), ('ARC_PINHOLE'), ('ARC_MULTI_PINHOLE'), ('ARC_SLIT'),
                ('SCIENCE'), ('UNKNOWN');
            INSERT INTO product_type_name (name) VALUES
                ('MBIAS'), ('MDARK'), ('ORDER_CENTRES'), ('MFLAT'), ('FLAT'), ('BLAZE'), ('E2DS'), ('DISP_MAP'),
                ('DISP_IMAGE'), ('LAMP_FLUX'), ('CRV_MODEL'), ('IDS_MODEL'), ('OPT_MODEL'), ('PIXEL_FLAT');

            CREATE TABLE frame (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                checksum text NOT NULL UNIQUE,          -- SHA-256 of the file's bytes: a frame's identity
                path text NOT NULL,                     -- where it was first seen
                size_bytes bigint NOT NULL,
                status text NOT NULL CHECK (status IN ('ok', 'problem')),
                problem text CHECK ((status = 'problem') = (problem IS NOT NULL)),
                instrument text,
                frame_type text NOT NULL REFERENCES frame_type_name (name),
                lamp text,
                night text,
                setup text,
                mjd_obs double precision,
                exptime double precision,
                tpl_start text,
                tpl_nexp integer,
                recorded_at timestamptz NOT NULL
            );
            CREATE INDEX frame_by_night ON frame (night, instrument, frame_type);
            CREATE INDEX frame_by_status ON frame (status);
            CREATE INDEX frame_by_recorded ON frame (recorded_at DESC, id DESC);

            -- Every path a frame's bytes were seen at (renamed or re-copied files).
            CREATE TABLE frame_path (
                path text COLLATE "C" PRIMARY KEY,      -- byte order, as SQLite: range scans find a directory's paths
                frame_id bigint NOT NULL REFERENCES frame (id),
                size_bytes bigint NOT NULL,
                mtime double precision NOT NULL,        -- lets a rescan skip unchanged files without re-reading them
                seen_at timestamptz NOT NULL
            );
            CREATE INDEX frame_path_by_frame ON frame_path (frame_id);

            -- Frames are here now: new job inputs must name one (rows from before are not re-checked).
            ALTER TABLE job_input ADD CONSTRAINT job_input_frame FOREIGN KEY (frame_id) REFERENCES frame (id) NOT VALID;
            ALTER TABLE job ADD CONSTRAINT job_product_type FOREIGN KEY (product_type) REFERENCES product_type_name (name) NOT VALID;
            ALTER TABLE product ADD CONSTRAINT product_product_type FOREIGN KEY (product_type) REFERENCES product_type_name (name) NOT VALID;
            ALTER TABLE job_calibration ADD CONSTRAINT job_calibration_product_type FOREIGN KEY (product_type) REFERENCES product_type_name (name) NOT VALID;
            CREATE INDEX job_by_state ON job (state, not_before);

            -- A product promoted by a person (or shipped static) to be the last fallback.
            ALTER TABLE product ADD COLUMN is_reference boolean NOT NULL DEFAULT false;
            -- 'missing' or 'quarantined' products are never chosen (calibctl verify sets them).
            ALTER TABLE product ADD COLUMN availability text NOT NULL DEFAULT 'available'
                CHECK (availability IN ('available', 'missing', 'quarantined'));
            CREATE INDEX product_by_time ON product (product_type, instrument, mjd);
            CREATE INDEX product_by_night ON product (night);
            CREATE INDEX product_by_job ON product (job_id);
            CREATE INDEX product_references ON product (product_type, instrument) WHERE is_reference;
            CREATE INDEX product_all_lookup ON product (product_type, instrument, night, setup);
            CREATE INDEX qc_metric_by_name ON qc_metric (name);

            -- A person's decision: use this product for these nights (and setup). Only a forced pin
            -- (made with --force over a refusal, which forced_over records) may serve a QC-failed product.
            CREATE TABLE pin (
                id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                product_id bigint NOT NULL REFERENCES product (id),
                product_type text NOT NULL REFERENCES product_type_name (name),
                instrument text NOT NULL,
                first_night text NOT NULL,
                last_night text NOT NULL CHECK (last_night >= first_night),
                setup text NOT NULL DEFAULT '',
                note text NOT NULL DEFAULT '',
                created_by text NOT NULL,
                created_at timestamptz NOT NULL,
                removed_at timestamptz,
                forced boolean NOT NULL DEFAULT false,
                forced_over text CHECK (forced = (forced_over IS NOT NULL))
            );
            CREATE INDEX pin_lookup ON pin (product_type, instrument, first_night, last_night);

            -- Small key/value state of the daemon (paused, heartbeat, start time).
            CREATE TABLE daemon_state (
                key text PRIMARY KEY,
                value text NOT NULL,
                updated_at timestamptz NOT NULL
            );

            -- Where each attempt's time went, in seconds (as SQLite's v7-job-phases).
            CREATE TABLE job_attempt_timing (
                job_id bigint NOT NULL REFERENCES job (id),
                attempt integer NOT NULL,
                wall_seconds double precision NOT NULL CHECK (wall_seconds >= 0),
                process_seconds double precision NOT NULL CHECK (process_seconds >= 0),
                database_seconds double precision NOT NULL CHECK (database_seconds >= 0),
                read_seconds double precision NOT NULL CHECK (read_seconds >= 0),
                compute_seconds double precision NOT NULL CHECK (compute_seconds >= 0),
                write_seconds double precision NOT NULL CHECK (write_seconds >= 0),
                fsync_seconds double precision NOT NULL CHECK (fsync_seconds >= 0),
                peak_rss_bytes bigint CHECK (peak_rss_bytes >= 0),
                recorded_at timestamptz NOT NULL,
                PRIMARY KEY (job_id, attempt)
            )
            """),
    ]
}
