import CalibDB
import Foundation

/// A calibration product as `calibs --json`, `best --json`, `job show --json`
/// and `export products` give it (`docs/schema/product.schema.json`).
/// `qc` is present where the answer includes the product's metrics
/// (`calibs`, `best`, `job show`); `export products` leaves it out, the
/// metrics being their own table (`export qc`).
public struct ProductJSON: Encodable, Sendable {
    public var id: Int64
    public var jobId: Int64
    public var type: String
    public var instrument: String
    public var night: String
    public var setup: [String: String]
    /// The product's time: mean MJD of its inputs.
    public var mjd: Double
    public var path: String
    public var sha256: String
    public var recipe: String
    public var recipeVersion: String
    public var qcPassed: Bool
    @Nullable public var supersededBy: Int64?
    public var isReference: Bool
    /// available, missing or quarantined.
    public var availability: String
    public var createdAt: Date
    public var qc: [QCMetricJSON]?

    public init(_ p: ProductRecord, qc: [QCMetricRecord]? = nil) {
        id = p.id ?? 0; jobId = p.jobId; type = p.productType.rawValue; instrument = p.instrument; night = p.night
        setup = JSONOutput.setup(p.setup) ?? [:]; mjd = p.mjd; path = p.path; sha256 = p.checksum; recipe = p.recipe
        recipeVersion = p.recipeVersion; qcPassed = p.qcPassed; supersededBy = p.supersededBy; isReference = p.isReference
        availability = p.availability.rawValue; createdAt = p.createdAt; self.qc = qc?.map(QCMetricJSON.init)
    }
}
