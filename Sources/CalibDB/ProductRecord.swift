import CalibCore
import Foundation
import GRDB

/// A calibration product on disk, with where it came from and whether it passed QC.
public struct ProductRecord: Codable, Sendable, Equatable, FetchableRecord, MutablePersistableRecord {
    public static let databaseTableName = "product"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var id: Int64?
    public var jobId: Int64
    public var productType: ProductType
    public var instrument: String
    public var night: String
    public var setup: String
    public var mjd: Double
    public var path: String
    public var checksum: String
    public var recipe: String
    public var recipeVersion: String
    public var qcPassed: Bool
    public var supersededBy: Int64?
    public var createdAt: Date
    public var isReference: Bool = false
    public var availability: Availability = .available

    public enum Availability: String, Codable, Sendable { case available, missing, quarantined }

    public enum Columns {
        public static let id = Column("id")
        public static let productType = Column("product_type")
        public static let instrument = Column("instrument")
        public static let night = Column("night")
        public static let setup = Column("setup")
        public static let qcPassed = Column("qc_passed")
        public static let supersededBy = Column("superseded_by")
        public static let createdAt = Column("created_at")
        public static let jobId = Column("job_id")
        public static let mjd = Column("mjd")
        public static let path = Column("path")
    }

    /// The association engine's view of this product.
    public var candidate: CalibrationCandidate {
        CalibrationCandidate(
            id: id!, type: productType, instrument: instrument, night: ObservingNight(night) ?? ObservingNight(mjdDate: mjd),
            setup: (try? Setup(parsing: setup)) ?? Setup(), mjd: mjd, qcPassed: qcPassed, supersededBy: supersededBy,
            isReference: isReference, isAvailable: availability == .available)
    }

    public init(id: Int64? = nil, jobId: Int64, productType: ProductType, instrument: String, night: String, setup: String,
                mjd: Double, path: String, checksum: String, recipe: String, recipeVersion: String, qcPassed: Bool,
                supersededBy: Int64? = nil, createdAt: Date) {
        self.id = id; self.jobId = jobId; self.productType = productType; self.instrument = instrument
        self.night = night; self.setup = setup; self.mjd = mjd; self.path = path; self.checksum = checksum
        self.recipe = recipe; self.recipeVersion = recipeVersion; self.qcPassed = qcPassed
        self.supersededBy = supersededBy; self.createdAt = createdAt
    }

    public mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One QC measurement of a product, with the range it was judged against.
public struct QCMetricRecord: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "qc_metric"
    public static let databaseColumnDecodingStrategy = DatabaseColumnDecodingStrategy.convertFromSnakeCase
    public static let databaseColumnEncodingStrategy = DatabaseColumnEncodingStrategy.convertToSnakeCase

    public var productId: Int64
    public var name: String
    /// nil when the metric could not be measured.
    public var value: Double?
    public var unit: String
    public var rangeMin: Double?
    public var rangeMax: Double?
    public var passed: Bool

    public init(productId: Int64, name: String, value: Double?, unit: String, rangeMin: Double?, rangeMax: Double?, passed: Bool) {
        self.productId = productId; self.name = name; self.value = value; self.unit = unit
        self.rangeMin = rangeMin; self.rangeMax = rangeMax; self.passed = passed
    }
}
