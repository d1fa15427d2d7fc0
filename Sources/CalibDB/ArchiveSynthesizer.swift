import CalibCore
import Foundation
import GRDB

/// Fills a database with a synthetic archive — years of nightly frames,
/// jobs, products and QC — to measure queries at archive scale. The rows are
/// shaped like real ones (several arms, every product type, a few QC
/// failures and superseded products) but point at no files.
public enum ArchiveSynthesizer {
    public struct Shape: Sendable {
        public var firstNight: ObservingNight
        public var nights: Int
        public var framesPerNight: Int
        public var arms: [String]
        public var productTypes: [ProductType]

        public init(firstNight: ObservingNight, nights: Int, framesPerNight: Int, arms: [String], productTypes: [ProductType]) {
            self.firstNight = firstNight; self.nights = nights; self.framesPerNight = framesPerNight
            self.arms = arms; self.productTypes = productTypes
        }

        /// Ten years with ≈1,000,000 frames and ≈100,000 products.
        public static let tenYears = Shape(
            firstNight: ObservingNight("2016-11-21")!, nights: 3653, framesPerNight: 274, arms: ["BLUE", "RED", "NIR"],
            productTypes: [.masterBias, .masterDark, .orderCentres, .masterFlat, .flat, .blaze, .dispersionMap, .dispersionImage, .lampFlux])
    }

    public static func fill(_ database: CalibrationDatabase, shape: Shape) throws -> (frames: Int, products: Int) {
        var frameCount = 0, productCount = 0
        let batch = 100
        var night = 0
        let recorded = Date(timeIntervalSince1970: 1_700_000_000)
        while night < shape.nights {
            let upper = min(night + batch, shape.nights)
            try database.write { db in
                let frame = try db.makeStatement(sql: """
                    INSERT INTO frame (checksum, path, size_bytes, status, instrument, frame_type, night, setup, mjd_obs, exptime, recorded_at)
                    VALUES (?, ?, 33554432, 'ok', 'SIMECH', ?, ?, ?, ?, 0, ?)
                    """)
                let job = try db.makeStatement(sql: """
                    INSERT INTO job (dedupe_key, recipe, recipe_version, parameters, instrument, night, setup, product_type, state,
                                     attempts, created_at, updated_at) VALUES (?, ?, '1.0', '{}', 'SIMECH', ?, ?, ?, ?, 1, ?, ?)
                    """)
                let product = try db.makeStatement(sql: """
                    INSERT INTO product (job_id, product_type, instrument, night, setup, mjd, path, checksum, recipe, recipe_version,
                                         qc_passed, created_at) VALUES (?, ?, 'SIMECH', ?, ?, ?, ?, ?, ?, '1.0', ?, ?)
                    """)
                let metric = try db.makeStatement(sql: """
                    INSERT INTO qc_metric (product_id, name, value, unit, range_min, range_max, passed) VALUES (?, ?, ?, '', 0, 10, ?)
                    """)
                for n in night..<upper {
                    let theNight = shape.firstNight.adding(days: n).description
                    let mjd = shape.firstNight.startDateMJD + Double(n) + 0.9
                    let types: [FrameType] = [.bias, .dark, .flat, .orderDefinition, .arcPinhole, .arcMultiPinhole, .science]
                    for f in 0..<shape.framesPerNight {
                        let arm = shape.arms[f % shape.arms.count]
                        try frame.execute(arguments: [
                            "n\(n)f\(f)", "/raw/\(theNight)/F\(f).fits", types[f % types.count].rawValue, theNight,
                            "arm=\(arm) binx=1 biny=1", mjd + Double(f) * 1e-4, recorded,
                        ])
                        frameCount += 1
                    }
                    for arm in shape.arms {
                        let setup = "arm=\(arm) binx=1 biny=1"
                        for type in shape.productTypes {
                            // One night in 40 fails QC; one in 60 was re-made (superseded product kept).
                            let failed = (n + type.rawValue.count) % 40 == 0
                            let versions = (n + arm.count) % 60 == 0 ? 2 : 1
                            for v in 0..<versions {
                                let key = "\(theNight)|\(setup)|\(type.rawValue)|\(v)"
                                try job.execute(arguments: [key, type.rawValue.lowercased(), theNight, setup, type.rawValue,
                                                            failed ? "qc_failed" : (v + 1 < versions ? "superseded" : "succeeded"), recorded, recorded])
                                let jobId = db.lastInsertedRowID
                                try product.execute(arguments: [jobId, type.rawValue, theNight, setup, mjd, "/products/\(key).fits", key,
                                                                type.rawValue.lowercased(), !failed, recorded])
                                let productId = db.lastInsertedRowID
                                if v > 0 {
                                    try db.execute(sql: "UPDATE product SET superseded_by = ? WHERE id = ?", arguments: [productId, productId - 1])
                                }
                                for (i, name) in ["metricA", "metricB", "metricC"].enumerated() {
                                    try metric.execute(arguments: [productId, name, Double(i) + 0.01 * Double(n % 97), !failed])
                                }
                                productCount += 1
                            }
                        }
                    }
                }
            }
            night = upper
        }
        return (frameCount, productCount)
    }
}
