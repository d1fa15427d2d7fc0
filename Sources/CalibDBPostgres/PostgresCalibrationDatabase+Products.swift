import CalibCore
import CalibDB
import Foundation
import PostgresNIO

/// Products and QC metrics on PostgreSQL, as `CalibrationDatabase+Products` and `+QC` read them.
/// Products are written by the queue's `complete` (`PostgresJobQueue`), which supersedes older
/// products of the same type, instrument, night and setup in the same transaction.
extension PostgresCalibrationDatabase {
    static let productColumns = "id, job_id, product_type, instrument, night, setup, mjd, path, checksum, recipe, recipe_version, "
        + "qc_passed, superseded_by, created_at, is_reference, availability"

    public func products(type: ProductType?, night: String?, includeSuperseded: Bool) throws -> [ProductRecord] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.productColumns) FROM product
                WHERE (\(type == nil) OR product_type = \(type?.rawValue)) AND (\(night == nil) OR night = \(night))
                  AND (\(includeSuperseded) OR superseded_by IS NULL)
                ORDER BY night COLLATE "C", id
                """).map(Self.product(from:))
        }
    }

    public func product(path: String) throws -> ProductRecord? {
        try pool.withConnection { c in
            try pool.query(c, "SELECT \(unescaped: Self.productColumns) FROM product WHERE path = \(path)").first.map(Self.product(from:))
        }
    }

    public func product(id: Int64) throws -> ProductRecord? {
        try pool.withConnection { c in
            try pool.query(c, "SELECT \(unescaped: Self.productColumns) FROM product WHERE id = \(id)").first.map(Self.product(from:))
        }
    }

    public func metrics(ofProduct id: Int64) throws -> [QCMetricRecord] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT product_id, name, value, unit, range_min, range_max, passed FROM qc_metric
                WHERE product_id = \(id) ORDER BY name COLLATE "C"
                """).map { row in
                let (productId, name, value, unit, low, high, passed) = try row.decode((Int64, String, Double?, String, Double?, Double?, Bool).self)
                return QCMetricRecord(productId: productId, name: name, value: value, unit: unit, rangeMin: low, rangeMax: high, passed: passed)
            }
        }
    }

    public func usableProducts(type: ProductType, instrument: String?, setup: Setup) throws -> [ProductRecord] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.productColumns) FROM product
                WHERE product_type = \(type.rawValue) AND qc_passed AND superseded_by IS NULL
                  AND (\(instrument == nil) OR instrument = \(instrument))
                ORDER BY id
                """).map(Self.product(from:))
        }.filter { product in ((try? Setup(parsing: product.setup)) ?? Setup()).satisfies(setup) }
    }

    public func trend(metric: String, type: ProductType?, since: String?, includeSuperseded: Bool) throws
        -> [(product: ProductRecord, value: Double?)] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.productColumns(prefix: "p.")), m.value AS metric_value
                FROM product p JOIN qc_metric m ON m.product_id = p.id
                WHERE m.name = \(metric) AND (\(type == nil) OR p.product_type = \(type?.rawValue))
                  AND (\(since == nil) OR p.night >= \(since) COLLATE "C") AND (\(includeSuperseded) OR p.superseded_by IS NULL)
                ORDER BY p.night COLLATE "C", p.setup COLLATE "C", p.id
                """).map { row in (try Self.product(from: row), try row.makeRandomAccess()["metric_value"].decode(Double?.self)) }
        }
    }

    static func productColumns(prefix: String) -> String {
        productColumns.split(separator: ",").map { prefix + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
    }

    static func product(from row: PostgresRow) throws -> ProductRecord {
        let r = row.makeRandomAccess()
        let typeName = try r["product_type"].decode(String.self)
        let availabilityName = try r["availability"].decode(String.self)
        guard let type = ProductType(rawValue: typeName) else {
            throw PostgresFailure(message: "product has type '\(typeName)', which this calibd does not know", sqlState: nil)
        }
        guard let availability = ProductRecord.Availability(rawValue: availabilityName) else {
            throw PostgresFailure(message: "product has availability '\(availabilityName)', which this calibd does not know", sqlState: nil)
        }
        var product = ProductRecord(
            id: try r["id"].decode(Int64.self), jobId: try r["job_id"].decode(Int64.self), productType: type,
            instrument: try r["instrument"].decode(String.self), night: try r["night"].decode(String.self),
            setup: try r["setup"].decode(String.self), mjd: try r["mjd"].decode(Double.self), path: try r["path"].decode(String.self),
            checksum: try r["checksum"].decode(String.self), recipe: try r["recipe"].decode(String.self),
            recipeVersion: try r["recipe_version"].decode(String.self), qcPassed: try r["qc_passed"].decode(Bool.self),
            supersededBy: try r["superseded_by"].decode(Int64?.self), createdAt: try r["created_at"].decode(Date.self))
        product.isReference = try r["is_reference"].decode(Bool.self)
        product.availability = availability
        return product
    }
}
