import CalibCore
import Foundation
import GRDB

extension CalibrationDatabase {
    /// Association candidates straight from rows (no record decoding: this is
    /// the hot path of every plan and every `calibctl best`): products of a
    /// type and instrument within an MJD interval, every reference
    /// calibration of that type, and the pinned products.
    public func candidates(type: ProductType, instrument: String, mjd: ClosedRange<Double>?, including ids: [Int64] = []) throws -> [CalibrationCandidate] {
        try read { db in
            let columns = "SELECT id, night, setup, mjd, qc_passed, superseded_by, is_reference, availability FROM product"
            var rows: [Row]
            if let mjd {
                // Three indexed lookups rather than one OR, which SQLite would answer with a scan.
                rows = try Row.fetchAll(db, sql: "\(columns) WHERE product_type = ? AND instrument = ? AND mjd BETWEEN ? AND ?",
                                        arguments: [type.rawValue, instrument, mjd.lowerBound, mjd.upperBound])
                rows += try Row.fetchAll(db, sql: "\(columns) WHERE product_type = ? AND instrument = ? AND is_reference = 1",
                                         arguments: [type.rawValue, instrument])
                for id in ids { rows += try Row.fetchAll(db, sql: "\(columns) WHERE id = ?", arguments: [id]) }
            } else {
                rows = try Row.fetchAll(db, sql: "\(columns) WHERE product_type = ? AND instrument = ?", arguments: [type.rawValue, instrument])
            }
            var seen: Set<Int64> = []
            var setups: [String: Setup] = [:]
            return rows.compactMap { row in
                let id: Int64 = row["id"]
                guard seen.insert(id).inserted else { return nil }
                let setupText: String = row["setup"]
                let setup = setups[setupText] ?? ((try? Setup(parsing: setupText)) ?? Setup())
                setups[setupText] = setup
                let mjd: Double = row["mjd"]
                return CalibrationCandidate(
                    id: id, type: type, instrument: instrument,
                    night: ObservingNight(row["night"] as String) ?? ObservingNight(mjdDate: mjd), setup: setup, mjd: mjd,
                    qcPassed: row["qc_passed"], supersededBy: row["superseded_by"], isReference: row["is_reference"],
                    isAvailable: (row["availability"] as String) == ProductRecord.Availability.available.rawValue)
            }
        }
    }

    /// Products of a type and instrument, optionally within an MJD interval (uses the time index).
    public func products(type: ProductType, instrument: String, mjd: ClosedRange<Double>?) throws -> [ProductRecord] {
        try read { db in
            var request = ProductRecord
                .filter(ProductRecord.Columns.productType == type.rawValue && ProductRecord.Columns.instrument == instrument)
            if let mjd { request = request.filter(mjd.contains(ProductRecord.Columns.mjd)) }
            return try request.fetchAll(db)
        }
    }

    public func references(type: ProductType, instrument: String) throws -> [ProductRecord] {
        try read { db in
            try ProductRecord.filter(ProductRecord.Columns.productType == type.rawValue
                                     && ProductRecord.Columns.instrument == instrument && Column("is_reference") == true)
                .fetchAll(db)
        }
    }

    /// Pins in force for a night.
    public func pins(type: ProductType, instrument: String, night: ObservingNight) throws -> [CalibrationPin] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT * FROM pin WHERE product_type = ? AND instrument = ? AND first_night <= ? AND last_night >= ?
                AND removed_at IS NULL ORDER BY created_at DESC
                """, arguments: [type.rawValue, instrument, night.description, night.description]).compactMap(Self.pin(from:))
        }
    }

    public func allPins() throws -> [(id: Int64, pin: CalibrationPin, createdBy: String)] {
        try pinListing().map { ($0.id, $0.pin, $0.pin.createdBy) }
    }

    /// Pins in force with their id and creation time, for `calibctl pin list`.
    public func pinListing() throws -> [(id: Int64, pin: CalibrationPin, createdAt: Date)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM pin WHERE removed_at IS NULL ORDER BY id").compactMap { row in
                Self.pin(from: row).map { (row["id"], $0, row["created_at"]) }
            }
        }
    }

    static func pin(from row: Row) -> CalibrationPin? {
        guard let type = ProductType(rawValue: row["product_type"]), let first = ObservingNight(row["first_night"]),
              let last = ObservingNight(row["last_night"]) else { return nil }
        return CalibrationPin(productId: row["product_id"], type: type, instrument: row["instrument"], firstNight: first,
                              lastNight: last, setup: (try? Setup(parsing: row["setup"])) ?? Setup(), note: row["note"],
                              forced: (row["forced"] as Bool?) ?? false, forcedOver: row["forced_over"],
                              createdBy: (row["created_by"] as String?) ?? "")
    }

    /// Pins a product for a range of nights; returns the pin's id. Whether
    /// the pin may be made is `PinReview`'s decision, taken before; a forced
    /// pin carries the refusal it overrode (`forcedOver`).
    @discardableResult
    public func addPin(productId: Int64, firstNight: ObservingNight, lastNight: ObservingNight, setup: Setup,
                       note: String, by who: String, forcedOver: String? = nil, now: Date = Date()) throws -> Int64 {
        try write { db in
            guard let product = try ProductRecord.fetchOne(db, key: productId) else { throw ControlError(message: "no product \(productId)") }
            guard firstNight <= lastNight else { throw ControlError(message: "the first night comes after the last") }
            try db.execute(sql: """
                INSERT INTO pin (product_id, product_type, instrument, first_night, last_night, setup, note, created_by, created_at,
                                 forced, forced_over)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [productId, product.productType.rawValue, product.instrument, firstNight.description,
                                 lastNight.description, setup.canonical, note, who, now, forcedOver != nil, forcedOver])
            return db.lastInsertedRowID
        }
    }

    /// Instruments with at least one product of a type, or of any type when
    /// `type` is nil (the `best` default when one alone has any).
    public func instruments(withProductsOf type: ProductType?) throws -> [String] {
        try read { db in
            if let type {
                return try String.fetchAll(db, sql: "SELECT DISTINCT instrument FROM product WHERE product_type = ? ORDER BY instrument",
                                           arguments: [type.rawValue])
            }
            return try String.fetchAll(db, sql: "SELECT DISTINCT instrument FROM product ORDER BY instrument")
        }
    }

    /// The distinct setups of an instrument's products of a type (to complete a partial `best` request).
    public func productSetups(type: ProductType, instrument: String) throws -> [Setup] {
        try read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT setup FROM product WHERE product_type = ? AND instrument = ?",
                                arguments: [type.rawValue, instrument]).compactMap { try? Setup(parsing: $0) }
        }
    }

    public func removePin(id: Int64, now: Date = Date()) throws {
        try write { db in
            try db.execute(sql: "UPDATE pin SET removed_at = ? WHERE id = ? AND removed_at IS NULL", arguments: [now, id])
            if db.changesCount == 0 { throw ControlError(message: "no pin \(id) in force") }
        }
    }

    /// Promotes a product to reference calibration, or withdraws it.
    public func setReference(productId: Int64, _ isReference: Bool) throws {
        try write { db in
            try db.execute(sql: "UPDATE product SET is_reference = ? WHERE id = ?", arguments: [isReference, productId])
            if db.changesCount == 0 { throw ControlError(message: "no product \(productId)") }
        }
    }

    public func setAvailability(productId: Int64, _ availability: ProductRecord.Availability) throws {
        try write { db in
            try db.execute(sql: "UPDATE product SET availability = ? WHERE id = ?", arguments: [availability.rawValue, productId])
        }
    }
}
