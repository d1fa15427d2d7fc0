import CalibCore
import Foundation
import GRDB

/// A product whose QC verdict changed when re-judged.
public struct QCReevaluation: Sendable, Codable {
    public var productId: Int64
    public var type: ProductType
    public var night: String
    public var wasPassed: Bool
    public var isPassed: Bool
    public var failing: [String]
}

extension CalibrationDatabase {
    /// Re-judges stored QC metrics against ranges given per product (by the
    /// caller, from the current configuration) without re-running anything.
    /// Updates each metric's range and verdict, the product's pass flag and
    /// its job's state (succeeded ⇄ qc_failed). Dependants re-plan by
    /// themselves: the association engine's choice changes, and with it their
    /// jobs' identities.
    public func reevaluateQC(products: [ProductRecord], ranges: (ProductRecord) -> [String: QCRange],
                             now: Date = Date()) throws -> [QCReevaluation] {
        var changes: [QCReevaluation] = []
        for product in products {
            let configured = ranges(product)
            let change: QCReevaluation? = try write { db in
                let metrics = try QCMetricRecord.filter(Column("product_id") == product.id!).fetchAll(db)
                var failing: [String] = []
                for var metric in metrics {
                    let range = configured[metric.name]
                    metric.rangeMin = range?.min
                    metric.rangeMax = range?.max
                    metric.passed = range.map { r in metric.value.map { r.contains($0) } ?? false } ?? true
                    if !metric.passed {
                        failing.append("\(metric.name) = \(metric.value.map { String(format: "%.4g", $0) } ?? "NaN") outside \(range!)")
                    }
                    try metric.update(db)
                }
                let passed = failing.isEmpty
                guard passed != product.qcPassed else { return nil }
                try db.execute(sql: "UPDATE product SET qc_passed = ? WHERE id = ?", arguments: [passed, product.id!])
                if var job = try JobRecord.fetchOne(db, key: product.jobId), job.state == .succeeded || job.state == .qcFailed {
                    job.state = passed ? .succeeded : .qcFailed
                    job.reason = passed ? "QC re-evaluated: passes the current ranges" : "QC re-evaluated: " + failing.joined(separator: "; ")
                    job.updatedAt = now
                    try job.update(db)
                    try Self.event(db, job.id!, job.state, job.reason, now)
                }
                return QCReevaluation(productId: product.id!, type: product.productType, night: product.night,
                                      wasPassed: product.qcPassed, isPassed: passed, failing: failing)
            }
            if let change { changes.append(change) }
        }
        return changes
    }

    /// One metric across nights, for trend plots and `calibctl qc trend`.
    public func trend(metric: String, type: ProductType?, since: String?, includeSuperseded: Bool = false) throws -> [(product: ProductRecord, value: Double?)] {
        try read { db in
            var sql = """
                SELECT p.*, m.value AS metric_value FROM product p JOIN qc_metric m ON m.product_id = p.id
                WHERE m.name = ?
                """
            var arguments: StatementArguments = [metric]
            if let type { sql += " AND p.product_type = ?"; arguments += [type.rawValue] }
            if let since { sql += " AND p.night >= ?"; arguments += [since] }
            if !includeSuperseded { sql += " AND p.superseded_by IS NULL" }
            sql += " ORDER BY p.night, p.setup, p.id"
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { (try ProductRecord(row: $0), $0["metric_value"] as Double?) }
        }
    }
}
