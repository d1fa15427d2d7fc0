import CalibCore
import CalibDB
import Foundation
import Pipeline
import Testing

/// `calibctl verify --repair` runs while the daemon works: what the daemon is
/// in the middle of writing is not an orphan.
@Suite("verify beside a running daemon")
struct ProductVerifierRaceTests {
    /// A workspace with a database holding one mbias job claimed by a worker.
    func makeRunningJob() throws -> (CalibrationDatabase, String, JobRecord) {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-verify-\(UUID().uuidString)").path
        let database = try CalibrationDatabase(path: root + "/calibd.sqlite")
        var inputs: [FrameSummary] = []
        for c in ["v1", "v2", "v3"] {
            let frame = FrameRecord(checksum: c, path: "/raw/\(c).fits", sizeBytes: 1000, status: .ok, instrument: "SIMECH",
                                    frameType: .bias, night: "2026-11-21", setup: "arm=RED", mjdObs: 61365.9, exptime: 0, recordedAt: Date())
            inputs.append(try database.record(frame: frame, seenAt: frame.path, mtime: 1).frame.summary!)
        }
        try database.ensureJob(PlannedJob(recipe: "mbias", recipeVersion: "1", parameters: "{}", instrument: "SIMECH", night: "2026-11-21",
                                          setup: "arm=RED", productType: .masterBias, inputs: inputs))
        let job = try #require(try database.claimNextJob(owner: "host/1/1", lease: 60))
        return (database, root + "/products", job)
    }

    @Test("A product renamed into place but not yet recorded, and a temporary file, are left alone while their job runs")
    func productBeingRecorded() throws {
        // Given a running job whose product file is in place, a moment before the transaction that records it
        let (database, products, job) = try makeRunningJob()
        defer { try? FileManager.default.removeItem(atPath: (products as NSString).deletingLastPathComponent) }
        let night = products + "/2026-11-21"
        try FileManager.default.createDirectory(atPath: night, withIntermediateDirectories: true)
        let product = night + "/SIMECH_MBIAS_2026-11-21_arm=RED_j\(job.id!).fits"
        let temporary = night + "/\(ProductWriter.temporaryPrefix)1234-SIMECH_MBIAS_2026-11-21_arm=RED_j\(job.id!).fits"
        try Data("product".utf8).write(to: URL(fileURLWithPath: product))
        try Data("half".utf8).write(to: URL(fileURLWithPath: temporary))
        let verifier = ProductVerifier(database: database, productsDirectory: products)
        // When verify --repair runs
        let report = try verifier.verify(repair: true, requestedBy: "test")
        // Then nothing is reported or moved
        #expect(report.isClean, "\(report.unrecorded)")
        #expect(FileManager.default.fileExists(atPath: product) && FileManager.default.fileExists(atPath: temporary))

        // When the job ends without recording the file (it failed for good), the file is an orphan
        try database.fail(job: job, error: "test", retryAfter: 0, permanent: true)
        let after = try verifier.verify(repair: false, requestedBy: "test")
        #expect(after.unrecorded == [product])
    }

    @Test("A file of another job with a similar number is not taken for this job's")
    func jobNumberIsExact() throws {
        let (database, products, job) = try makeRunningJob()
        defer { try? FileManager.default.removeItem(atPath: (products as NSString).deletingLastPathComponent) }
        let night = products + "/2026-11-21"
        try FileManager.default.createDirectory(atPath: night, withIntermediateDirectories: true)
        let stray = night + "/SIMECH_MBIAS_2026-11-21_arm=RED_j\(job.id!)7.fits"
        try Data("stray".utf8).write(to: URL(fileURLWithPath: stray))
        let report = try ProductVerifier(database: database, productsDirectory: products).verify(repair: false, requestedBy: "test")
        #expect(report.unrecorded == [stray])
    }
}
