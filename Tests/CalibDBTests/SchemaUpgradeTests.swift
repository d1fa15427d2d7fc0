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
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures/release-2026-11-21.sqlite").path

    /// A writable copy, so that the fixture itself never changes.
    func upgradedCopy() throws -> (CalibrationDatabase, String) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("upgrade-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/calibd.sqlite"
        try FileManager.default.copyItem(atPath: Self.fixture, toPath: path)
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

    @Test("The upgraded database accepts a frame of every type and a product of every type")
    func acceptsTodaysTypes() throws {
        // Given the upgraded release database
        let (db, _) = try upgradedCopy()

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
}
