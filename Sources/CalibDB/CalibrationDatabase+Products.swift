import CalibCore
import Foundation
import GRDB

extension CalibrationDatabase {
    public func products(type: ProductType? = nil, night: String? = nil, includeSuperseded: Bool = true) throws -> [ProductRecord] {
        try read { db in
            var request = ProductRecord.all()
            if let type { request = request.filter(ProductRecord.Columns.productType == type.rawValue) }
            if let night { request = request.filter(ProductRecord.Columns.night == night) }
            if !includeSuperseded { request = request.filter(ProductRecord.Columns.supersededBy == nil) }
            return try request.order(ProductRecord.Columns.night, ProductRecord.Columns.id).fetchAll(db)
        }
    }

    public func product(path: String) throws -> ProductRecord? {
        try read { db in try ProductRecord.filter(Column("path") == path).fetchOne(db) }
    }

    public func product(id: Int64) throws -> ProductRecord? {
        try read { db in try ProductRecord.fetchOne(db, key: id) }
    }

    public func metrics(ofProduct id: Int64) throws -> [QCMetricRecord] {
        try read { db in try QCMetricRecord.filter(Column("product_id") == id).order(Column("name")).fetchAll(db) }
    }

    /// Products of a type that may be used: QC passed and not superseded,
    /// of the instrument, whose setup satisfies `setup`.
    public func usableProducts(type: ProductType, instrument: String?, setup: Setup) throws -> [ProductRecord] {
        try read { db in
            var request = ProductRecord
                .filter(ProductRecord.Columns.productType == type.rawValue)
                .filter(ProductRecord.Columns.qcPassed == true && ProductRecord.Columns.supersededBy == nil)
            if let instrument { request = request.filter(ProductRecord.Columns.instrument == instrument) }
            return try request.fetchAll(db).filter { product in
                ((try? Setup(parsing: product.setup)) ?? Setup()).satisfies(setup)
            }
        }
    }
}
