import CalibCore
import CalibDB
import Foundation
import GRDB

/// The ten-year archive (≈1,000,000 frames, ≈100,000 products), built once
/// per machine in the temporary directory and reused by later runs.
enum BenchmarkArchive {
    static let path = FileManager.default.temporaryDirectory.appendingPathComponent("calib-bench-archive-v1/calibd.sqlite").path

    static func database() throws -> CalibrationDatabase {
        if FileManager.default.fileExists(atPath: path) { return try CalibrationDatabase(path: path) }
        let building = path + ".building"
        try? FileManager.default.removeItem(atPath: building)
        let database = try CalibrationDatabase(path: building)
        _ = try ArchiveSynthesizer.fill(database, shape: .tenYears)
        try FileManager.default.moveItem(atPath: building, toPath: path)
        for suffix in ["-wal", "-shm"] { try? FileManager.default.removeItem(atPath: building + suffix) }
        return try CalibrationDatabase(path: path)
    }

    static let night = ObservingNight("2021-11-21")!
}

/// `calibctl best` on the archive: the association engine with the profile-style rule.
let archiveBestBenchmark = BenchmarkCase(
    name: "best calibration, 10-year archive", target: "≤ 10 ms", targetSeconds: 0.010
) { _, _ in
    let database = try BenchmarkArchive.database()
    let associator = CalibrationAssociator(database: database)
    let request = AssociationRequest(type: .masterFlat, instrument: "SIMECH", night: BenchmarkArchive.night,
                                     setup: try Setup(parsing: "arm=RED binx=1 biny=1"), mjd: BenchmarkArchive.night.startDateMJD + 1.1)
    let rule = AssociationRule(match: ["arm", "binx", "biny"], time: .closest, maxAgeDays: 30)
    let frames = try database.frameCount()
    let products = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM product") ?? 0 }
    return {
        let result = try associator.best(request, rule: rule)
        return "product \(result.chosen?.candidate.id ?? -1) of \(result.verdicts.count) candidates; archive \(frames) frames, \(products) products"
    }
}

/// `calibctl calibs --night` on the archive: a night's products with their QC.
let archiveNightListingBenchmark = BenchmarkCase(
    name: "calibs --night, 10-year archive", target: "≤ 50 ms", targetSeconds: 0.050
) { _, _ in
    let database = try BenchmarkArchive.database()
    return {
        let products = try database.products(night: BenchmarkArchive.night.description, includeSuperseded: false)
        var metrics = 0
        for product in products { metrics += try database.metrics(ofProduct: product.id!).count }
        return "\(products.count) products, \(metrics) QC metrics"
    }
}
