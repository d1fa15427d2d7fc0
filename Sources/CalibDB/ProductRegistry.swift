import CalibCore
import Foundation

/// Products and their QC metrics (products are created by `JobQueue.complete`).
public protocol ProductRegistry: Sendable {
    /// Products ordered by night, then id.
    func products(type: ProductType?, night: String?, includeSuperseded: Bool) throws -> [ProductRecord]
    func product(path: String) throws -> ProductRecord?
    func product(id: Int64) throws -> ProductRecord?
    /// A product's metrics ordered by name.
    func metrics(ofProduct id: Int64) throws -> [QCMetricRecord]
    /// QC passed, not superseded, of the instrument, whose setup satisfies `setup`.
    func usableProducts(type: ProductType, instrument: String?, setup: Setup) throws -> [ProductRecord]
    /// One metric across nights (ordered by night, setup, id); superseded products only when asked.
    func trend(metric: String, type: ProductType?, since: String?, includeSuperseded: Bool) throws
        -> [(product: ProductRecord, value: Double?)]
    /// Re-judges stored metrics against `ranges` (per product); updates metrics, the product's
    /// verdict and its job's state (succeeded ⇄ qc_failed). Returns the products whose verdict changed.
    func reevaluateQC(products: [ProductRecord], ranges: (ProductRecord) -> [String: QCRange], now: Date) throws
        -> [QCReevaluation]
}
