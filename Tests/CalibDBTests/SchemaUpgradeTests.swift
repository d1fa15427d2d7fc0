import CalibCore
import CalibDB
import Foundation
import GRDB
import Testing

/// Workspaces outlive releases: a database written by an earlier release must
/// open, migrate and take today's frame and product types.
///
/// `Fixtures/release-2026-11-21.sqlite` was made by the release of 2026-11-21
/// (schema v1–v3): `calibd --once` on a simulated two-arm SIMECH night at
/// 512 px with one garbage file, then two pins (one of them the cross-arm pin
/// that release accepted without a setup) and one reference calibration.
/// Never regenerate it: it stands for databases already in the field.
@Suite("Schema upgrade from a shipped release")
struct SchemaUpgradeTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
    static let fixture = fixtures.appendingPathComponent("release-2026-11-21.sqlite").path
    /// Made by main on 2026-12-07 (schema v1–v4, before type tables): `calibd --once` on a 512 px two-arm
    /// SIMECH night plus an X-shooter VIS 2×2 night (biases and pinhole arcs) and one garbage file; then a
    /// forced pin over a QC-failed BLUE DISP_MAP, a pin of the X-shooter DISP_MAP, and MBIAS 3 made a reference.
    /// Stored in rollback-journal mode (as the release fixture is), so that opening it read-only leaves no -wal/-shm beside it.
    static let mainFixture = fixtures.appendingPathComponent("main-2026-12-07.sqlite").path

    /// A writable copy, so that the fixture itself never changes.
    func upgradedCopy(of fixture: String = fixture) throws -> (CalibrationDatabase, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("upgrade-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/calibd.sqlite"
        try FileManager.default.copyItem(atPath: fixture, toPath: path)
        return (try CalibrationDatabase(path: path), path)
    }

    @Test("The 2026-11-21 database opens, migrates to today's schema and keeps every row")
    func migratesAndKeepsRows() throws {
        // Given the shipped release's database
        let before = try DatabaseQueue(path: Self.fixture, configuration: { var c = Configuration(); c.readonly = true; return c }())
        let applied = try before.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(applied.count == 3)

        // When today's code opens it
        let (db, path) = try upgradedCopy()

        // Then every migration has run, the rows are all there and the file is sound
        let after = try DatabaseQueue(path: path)
        let counts = try after.read { db in
            try ["frame", "job", "product", "qc_metric", "pin"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)")! }
        }
        #expect(counts == [42, 12, 16, 189, 2])
        let migrated = try after.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }
        #expect(Set(applied).isSubset(of: Set(migrated)))
        #expect(try db.integrityCheck() == "ok")
        #expect(try db.frames(problemsOnly: true).contains { $0.frame.problem?.contains("not a FITS file") == true })
    }

    @Test("The 2026-12-07 database (v1–v4) migrates with its forced pin, its X-shooter products and its reference intact")
    func mainFixtureMigrates() throws {
        // Given the database main made before type tables
        let before = try DatabaseQueue(path: Self.mainFixture, configuration: { var c = Configuration(); c.readonly = true; return c }())
        #expect(try before.read { try String.fetchAll($0, sql: "SELECT identifier FROM grdb_migrations") }.count == 4)

        // When today's code opens it
        let (db, path) = try upgradedCopy(of: Self.mainFixture)

        // Then every row is kept, the forced pin still says what it overrode, and the file is sound
        let after = try DatabaseQueue(path: path)
        let counts = try after.read { db in
            try ["frame", "job", "product", "qc_metric", "pin"].map { try Int.fetchOne(db, sql: "SELECT count(*) FROM \($0)")! }
        }
        #expect(counts == [48, 15, 19, 231, 2])
        let forced = try after.read { try Row.fetchOne($0, sql: "SELECT forced, forced_over FROM pin WHERE product_id = 4") }
        #expect(forced?["forced"] == 1)
        #expect((forced?["forced_over"] as String?)?.contains("failed QC") == true)
        let xshooter = try after.read { try Int.fetchOne($0, sql: "SELECT count(*) FROM product WHERE instrument = 'XSHOOTER'") }
        #expect(xshooter == 3)
        #expect(try after.read { try Int.fetchOne($0, sql: "SELECT is_reference FROM product WHERE id = 3") } == 1)
        #expect(try db.integrityCheck() == "ok")
    }

    @Test("The upgraded database accepts a frame of every type and a product of every type", arguments: [fixture, mainFixture])
    func acceptsTodaysTypes(fixture: String) throws {
        // Given an upgraded shipped database
        let (db, _) = try upgradedCopy(of: fixture)

        // When a frame of every type today's code knows is recorded
        for (index, type) in FrameType.allCases.enumerated() {
            let frame = FrameRecord(checksum: "upgrade-\(type.rawValue)", path: "/raw/u\(index).fits", sizeBytes: 2880,
                                    status: .ok, instrument: "SIMECH", frameType: type, night: "2026-12-01",
                                    setup: "arm=RED", mjdObs: 61375.9, exptime: 1, recordedAt: Date())
            // Then the schema takes it
            let (stored, isNew) = try db.record(frame: frame, seenAt: frame.path, mtime: 1)
            #expect(isNew && stored.frameType == type)
        }

        // And a job and product of every product type can be recorded and completed
        let inputs = try db.frameSummaries(nights: ["2026-12-01"])
        for type in ProductType.allCases {
            let planned = PlannedJob(recipe: "upgrade-\(type.rawValue)", recipeVersion: "1", parameters: "{}", instrument: "SIMECH",
                                     night: "2026-12-01", setup: "arm=RED", productType: type, inputs: inputs)
            try db.ensureJob(planned)
        }
        var completed: [ProductType] = []
        while let job = try db.claimNextJob(owner: "upgrade-test", lease: 60) {
            let draft = ProductDraft(productType: job.productType, mjd: 61375.9, path: "/ws/u-\(job.id!).fits",
                                     checksum: "c\(job.id!)", qcPassed: true,
                                     metrics: [QCMetricDraft(name: "m", value: 1, unit: "", range: nil)])
            try db.complete(job: job, outcome: .succeeded, products: [draft])
            completed.append(job.productType)
        }
        #expect(Set(completed) == Set(ProductType.allCases))
    }

    @Test("The release's cross-arm pin (a BLUE DISP_MAP pinned without a setup) is never served to RED after the upgrade")
    func legacyCrossArmPinSetAside() throws {
        // Given the upgraded database, whose pin 2 names BLUE DISP_MAP product 3 for 2026-11-21 with no setup
        let (db, _) = try upgradedCopy()
        let night = try #require(ObservingNight("2026-11-21"))
        let red = try Setup(parsing: "arm=RED binx=8 biny=8")
        let request = AssociationRequest(type: .dispersionMap, instrument: "SIMECH", night: night, setup: red,
                                         mjd: night.startDateMJD + 0.9)

        // When the association engine is asked for RED's DISP_MAP with SIMECH's match keys
        let result = try CalibrationAssociator(database: db).best(request, rule: AssociationRule(match: ["arm", "binx", "biny"]))

        // Then the pinned BLUE product is set aside with a reason, and nothing BLUE is chosen
        #expect(result.chosen?.candidate.id != 3)
        #expect(result.basis != .pin)
        let verdict = try #require(result.verdicts.first { $0.candidate.id == 3 })
        #expect(verdict.rejection?.isEmpty == false)
        if let chosen = result.chosen { #expect(chosen.candidate.setup.canonical.contains("arm=RED")) }
    }

    @Test("After v5 a type is a row: the rebuilt tables keep their rows, indexes and references, and refuse a type nobody added")
    func typesAreRows() throws {
        // Given the upgraded release database
        let (_, path) = try upgradedCopy()
        let queue = try DatabaseQueue(path: path, configuration: { var c = Configuration(); c.foreignKeysEnabled = true; return c }())

        try queue.read { db in
            // Then no type CHECK list is left in the rebuilt tables, every foreign key holds and the indexes are back
            for table in ["frame", "job", "job_calibration", "product", "pin"] {
                let sql = try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = ?", arguments: [table]) ?? ""
                #expect(!sql.contains("_type IN ("), "\(table): \(sql)")
                #expect(sql.contains("_type_name(name)"), "\(table): \(sql)")
            }
            #expect(try Row.fetchAll(db, sql: "PRAGMA foreign_key_check").isEmpty)
            let indexes = try Set(String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"))
            #expect(indexes.isSuperset(of: ["frame_by_night", "frame_by_status", "job_by_state", "job_by_night", "product_lookup",
                                            "product_by_time", "product_by_night", "product_by_job", "product_references", "pin_lookup"]))
            // And every type today's code knows has its row (a new case without a migration fails here)
            let frameNames = try Set(String.fetchAll(db, sql: "SELECT name FROM frame_type_name"))
            let productNames = try Set(String.fetchAll(db, sql: "SELECT name FROM product_type_name"))
            #expect(Set(FrameType.allCases.map(\.rawValue)).isSubset(of: frameNames))
            #expect(Set(ProductType.allCases.map(\.rawValue)).isSubset(of: productNames))
        }

        // When a frame of a type no migration added is written directly
        #expect(throws: DatabaseError.self) {
            try queue.write { db in
                try db.execute(sql: """
                    INSERT INTO frame (checksum, path, size_bytes, status, frame_type, recorded_at)
                    VALUES ('x', '/raw/x.fits', 2880, 'ok', 'NOT_A_TYPE', 0)
                    """)
            }
        }
    }
}
