import CalibCore
import GRDB

/// The database schema as migrations. A shipped migration never changes;
/// the schema evolves by adding migrations. Invariants live in the schema:
/// NOT NULL, CHECK on every state or type column, foreign keys, UNIQUE on
/// identities (a frame's checksum, a job's dedupe key, a product's path).
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: frames, jobs, products, QC") { db in
            // Frozen as shipped: these lists were once built from the Swift enums, so
            // adding a case would have changed this migration under existing
            // databases. New types arrive through later migrations.
            let frameTypes = Shipped.v1FrameTypes
            let productTypes = Shipped.v1ProductTypes
            let jobStates = Shipped.v1JobStates
            try db.execute(sql: """
                CREATE TABLE frame (
                    id INTEGER PRIMARY KEY,
                    checksum TEXT NOT NULL UNIQUE,          -- SHA-256 of the file's bytes: a frame's identity
                    path TEXT NOT NULL,                     -- where it was first seen
                    size_bytes INTEGER NOT NULL,
                    status TEXT NOT NULL CHECK (status IN ('ok', 'problem')),
                    problem TEXT CHECK ((status = 'problem') = (problem IS NOT NULL)),
                    instrument TEXT,
                    frame_type TEXT NOT NULL CHECK (frame_type IN (\(frameTypes))),
                    lamp TEXT,
                    night TEXT,
                    setup TEXT,
                    mjd_obs REAL,
                    exptime REAL,
                    tpl_start TEXT,
                    tpl_nexp INTEGER,
                    recorded_at REAL NOT NULL
                );
                CREATE INDEX frame_by_night ON frame(night, instrument, frame_type);
                CREATE INDEX frame_by_status ON frame(status);

                -- Every path a frame's bytes were seen at (renamed or re-copied files).
                CREATE TABLE frame_path (
                    path TEXT PRIMARY KEY,
                    frame_id INTEGER NOT NULL REFERENCES frame(id),
                    size_bytes INTEGER NOT NULL,
                    mtime REAL NOT NULL,                    -- lets a rescan skip unchanged files without re-reading them
                    seen_at REAL NOT NULL
                );
                CREATE INDEX frame_path_by_frame ON frame_path(frame_id);

                CREATE TABLE job (
                    id INTEGER PRIMARY KEY,
                    -- recipe + version + parameters + sorted input checksums: the same work is never done twice
                    dedupe_key TEXT NOT NULL UNIQUE,
                    recipe TEXT NOT NULL,
                    recipe_version TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    instrument TEXT NOT NULL,
                    night TEXT NOT NULL,
                    setup TEXT NOT NULL,
                    product_type TEXT NOT NULL CHECK (product_type IN (\(productTypes))),
                    state TEXT NOT NULL CHECK (state IN (\(jobStates))),
                    reason TEXT,
                    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
                    max_attempts INTEGER NOT NULL DEFAULT 3,
                    generation INTEGER NOT NULL DEFAULT 0,  -- bumped by each requested re-run; names its product files
                    not_before REAL,
                    lease_owner TEXT,
                    lease_expires_at REAL,
                    created_at REAL NOT NULL,
                    updated_at REAL NOT NULL,
                    started_at REAL,
                    finished_at REAL
                );
                CREATE INDEX job_by_state ON job(state, not_before);
                CREATE INDEX job_by_night ON job(night, recipe, setup);

                CREATE TABLE job_input (
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    frame_id INTEGER NOT NULL REFERENCES frame(id),
                    PRIMARY KEY (job_id, frame_id)
                );

                -- The upstream calibrations a job was planned with (part of its identity).
                CREATE TABLE job_calibration (
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    product_type TEXT NOT NULL CHECK (product_type IN (\(productTypes))),
                    product_id INTEGER NOT NULL REFERENCES product(id),
                    PRIMARY KEY (job_id, product_type)
                );

                -- Append-only history of every job's states, for "what happened".
                CREATE TABLE job_event (
                    id INTEGER PRIMARY KEY,
                    job_id INTEGER NOT NULL REFERENCES job(id) ON DELETE CASCADE,
                    at REAL NOT NULL,
                    state TEXT NOT NULL CHECK (state IN (\(jobStates))),
                    message TEXT
                );
                CREATE INDEX job_event_by_job ON job_event(job_id, at);

                CREATE TABLE product (
                    id INTEGER PRIMARY KEY,
                    job_id INTEGER NOT NULL REFERENCES job(id),
                    product_type TEXT NOT NULL CHECK (product_type IN (\(productTypes))),
                    instrument TEXT NOT NULL,
                    night TEXT NOT NULL,
                    setup TEXT NOT NULL,
                    mjd REAL NOT NULL,                      -- mean MJD of the inputs
                    path TEXT NOT NULL UNIQUE,
                    checksum TEXT NOT NULL,
                    recipe TEXT NOT NULL,
                    recipe_version TEXT NOT NULL,
                    qc_passed INTEGER NOT NULL CHECK (qc_passed IN (0, 1)),
                    superseded_by INTEGER REFERENCES product(id),
                    created_at REAL NOT NULL
                );
                CREATE INDEX product_lookup ON product(product_type, instrument, night, setup);

                -- Which calibrations a product was made with.
                CREATE TABLE product_used (
                    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
                    used_product_id INTEGER NOT NULL REFERENCES product(id),
                    PRIMARY KEY (product_id, used_product_id)
                );

                CREATE TABLE qc_metric (
                    product_id INTEGER NOT NULL REFERENCES product(id) ON DELETE CASCADE,
                    name TEXT NOT NULL,
                    value REAL,                             -- NULL when it could not be measured (NaN)
                    unit TEXT NOT NULL DEFAULT '',
                    range_min REAL,
                    range_max REAL,
                    passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
                    PRIMARY KEY (product_id, name)
                );
                CREATE INDEX qc_metric_by_name ON qc_metric(name);

                -- Requests from calibctl to the running daemon (pause, rerun, …).
                CREATE TABLE control_request (
                    id INTEGER PRIMARY KEY,
                    command TEXT NOT NULL,
                    argument TEXT,
                    requested_at REAL NOT NULL,
                    handled_at REAL,
                    outcome TEXT
                );

                -- Small key/value state of the daemon (paused, heartbeat, start time).
                CREATE TABLE daemon_state (
                    key TEXT PRIMARY KEY,
                    value TEXT NOT NULL,
                    updated_at REAL NOT NULL
                );
                """)
        }
        migrator.registerMigration("v2: reference calibrations, pins, product availability") { db in
            let productTypes = Shipped.v1ProductTypes
            try db.execute(sql: """
                -- A product promoted by a person (or shipped static) to be the last fallback.
                ALTER TABLE product ADD COLUMN is_reference INTEGER NOT NULL DEFAULT 0 CHECK (is_reference IN (0, 1));
                -- 'missing' or 'quarantined' products are never chosen (calibctl verify sets them).
                ALTER TABLE product ADD COLUMN availability TEXT NOT NULL DEFAULT 'available'
                    CHECK (availability IN ('available', 'missing', 'quarantined'));
                CREATE INDEX product_by_time ON product(product_type, instrument, mjd);

                -- A person's decision: use this product for these nights (and setup).
                CREATE TABLE pin (
                    id INTEGER PRIMARY KEY,
                    product_id INTEGER NOT NULL REFERENCES product(id),
                    product_type TEXT NOT NULL CHECK (product_type IN (\(productTypes))),
                    instrument TEXT NOT NULL,
                    first_night TEXT NOT NULL,
                    last_night TEXT NOT NULL CHECK (last_night >= first_night),
                    setup TEXT NOT NULL DEFAULT '',
                    note TEXT NOT NULL DEFAULT '',
                    created_by TEXT NOT NULL,
                    created_at REAL NOT NULL,
                    removed_at REAL
                );
                CREATE INDEX pin_lookup ON pin(product_type, instrument, first_night, last_night);

                -- How each upstream calibration of a job was chosen.
                ALTER TABLE job_calibration ADD COLUMN basis TEXT NOT NULL DEFAULT 'rules';
                ALTER TABLE job_calibration ADD COLUMN level INTEGER;
                ALTER TABLE job_calibration ADD COLUMN explanation TEXT NOT NULL DEFAULT '';
                """)
        }
        migrator.registerMigration("v3: indexes for archive-scale listings") { db in
            try db.execute(sql: """
                -- `calibctl calibs --night` and the night report list a night's products of every type.
                CREATE INDEX product_by_night ON product(night);
                -- Products of a job (job show, supersede).
                CREATE INDEX product_by_job ON product(job_id);
                -- Reference calibrations are few: a partial index finds them without a scan.
                CREATE INDEX product_references ON product(product_type, instrument) WHERE is_reference = 1;
                """)
        }
        migrator.registerMigration("v4-pins: forced pins record the refusal they overrode") { db in
            try db.execute(sql: """
                -- 1 when a person pinned with --force over a refusal (a QC-failed or missing product);
                -- created_by and created_at say who and when, note says why. Only a forced pin
                -- may serve a QC-failed product.
                ALTER TABLE pin ADD COLUMN forced INTEGER NOT NULL DEFAULT 0 CHECK (forced IN (0, 1));
                -- The refusal overridden, in words ("product 9 failed QC"); NULL exactly when not forced.
                ALTER TABLE pin ADD COLUMN forced_over TEXT CHECK ((forced = 1) = (forced_over IS NOT NULL));
                """)
        }
        migrator.registerMigration("v5-type-tables: frame and product types are rows, not CHECK lists") { db in
            // Until now every new frame or product type meant rebuilding five tables to widen
            // their CHECK lists. From here a type is a row of a lookup table that the type
            // columns reference, so a later release adds a type with one INSERT in its own
            // migration. The lists below are the types the schema accepted up to v4; they
            // are frozen here like every shipped list.
            try db.execute(sql: """
                CREATE TABLE frame_type_name (name TEXT PRIMARY KEY) WITHOUT ROWID;
                CREATE TABLE product_type_name (name TEXT PRIMARY KEY) WITHOUT ROWID;
                """)
            for name in Shipped.v1FrameTypes.split(separator: ",").map({ $0.trimmingCharacters(in: ["'"]) }) {
                try db.execute(sql: "INSERT INTO frame_type_name(name) VALUES (?)", arguments: [name])
            }
            for name in Shipped.v1ProductTypes.split(separator: ",").map({ $0.trimmingCharacters(in: ["'"]) }) {
                try db.execute(sql: "INSERT INTO product_type_name(name) VALUES (?)", arguments: [name])
            }
            try TableRebuild.replaceTypeChecks(db, table: "frame", column: "frame_type", lookup: "frame_type_name")
            for table in ["job", "job_calibration", "product", "pin"] {
                try TableRebuild.replaceTypeChecks(db, table: table, column: "product_type", lookup: "product_type_name")
            }
        }
        migrator.registerMigration("v6-longslit-types: long-slit curvature and wavelength models") { db in
            // The long-slit family's products (issue 13): CRV_MODEL, the slit edges traced
            // on a through-slit flat; IDS_MODEL, the wavelength solution found on an arc.
            // Rows only; the names are written out, never taken from the Swift enum.
            for name in ["CRV_MODEL", "IDS_MODEL"] {
                try db.execute(sql: "INSERT INTO product_type_name(name) VALUES (?)", arguments: [name])
            }
        }
        migrator.registerMigration("v7-job-phases: where each attempt's time went") { db in
            try db.execute(sql: """
                -- One row per attempt that ran to an outcome: its wall time split into phases, in
                -- seconds, and the peak resident memory of its recipe process. Written by the
                -- daemon from the recipe process's own report plus what the daemon measured around it.
                CREATE TABLE job_attempt_timing (
                    job_id INTEGER NOT NULL REFERENCES job(id),
                    attempt INTEGER NOT NULL,
                    -- From the start of the recipe process to its end, as the daemon saw it.
                    wall_seconds REAL NOT NULL CHECK (wall_seconds >= 0),
                    -- Starting the process, loading the configuration, exiting: wall less the attempt's own time.
                    process_seconds REAL NOT NULL CHECK (process_seconds >= 0),
                    -- Opening the database, reading the job's inputs, recording the outcome.
                    database_seconds REAL NOT NULL CHECK (database_seconds >= 0),
                    -- Inside cfitsio reading input frames and calibrations (decompression included).
                    read_seconds REAL NOT NULL CHECK (read_seconds >= 0),
                    -- The recipe's run less its reads.
                    compute_seconds REAL NOT NULL CHECK (compute_seconds >= 0),
                    -- Writing products, their checksums and plots, short of fsync.
                    write_seconds REAL NOT NULL CHECK (write_seconds >= 0),
                    fsync_seconds REAL NOT NULL CHECK (fsync_seconds >= 0),
                    -- Peak resident set of the recipe process (NULL when it ran in the daemon).
                    peak_rss_bytes INTEGER CHECK (peak_rss_bytes >= 0),
                    recorded_at REAL NOT NULL,
                    PRIMARY KEY (job_id, attempt)
                );
                """)
        }
        migrator.registerMigration("v8-mos-types: the long-slit/MOS optical model") { db in
            // OPT_MODEL (issue 13): the mask's slits on the detector at the reference wavelength.
            // A row only; the name is written out, never taken from the Swift enum.
            try db.execute(sql: "INSERT INTO product_type_name(name) VALUES (?)", arguments: ["OPT_MODEL"])
        }
        migrator.registerMigration("v9-longslit-pixel-flat: the long-slit pixel flat") { db in
            // PIXEL_FLAT (issue 13): the flat with lamp spectrum and slit illumination divided out.
            // A row only; the name is written out, never taken from the Swift enum.
            try db.execute(sql: "INSERT INTO product_type_name(name) VALUES (?)", arguments: ["PIXEL_FLAT"])
        }
        return migrator
    }
}

extension Schema {
    /// The CHECK lists of the shipped migrations v1 and v2, exactly as they
    /// were written into every database made by those releases. Never edit:
    /// `SchemaUpgradeTests` opens a database made by that release.
    enum Shipped {
        static let v1FrameTypes =
            "'BIAS','DARK','FLAT','ORDERDEF','ARC_PINHOLE','ARC_MULTI_PINHOLE','ARC_SLIT','SCIENCE','UNKNOWN'"
        static let v1ProductTypes =
            "'MBIAS','MDARK','ORDER_CENTRES','MFLAT','FLAT','BLAZE','E2DS','DISP_MAP','DISP_IMAGE','LAMP_FLUX'"
        static let v1JobStates =
            "'waiting','queued','running','succeeded','qc_failed','failed','cancelled','superseded'"
    }
}
