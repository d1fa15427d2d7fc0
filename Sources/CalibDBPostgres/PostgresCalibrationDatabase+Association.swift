import CalibCore
import CalibDB
import Foundation
import PostgresNIO

/// What the association engine reads, on PostgreSQL. The choice itself — pins
/// first (never another setup's product on the rule's keys, never a QC-failed
/// one unless the pin was forced, never a missing file), then the rules, then
/// references — is `CalibrationAssociation`, the same code as on SQLite; this
/// only has to hand it the same candidates and pins.
extension PostgresCalibrationDatabase {
    public func candidates(type: ProductType, instrument: String, mjd: ClosedRange<Double>?, including ids: [Int64]) throws
        -> [CalibrationCandidate] {
        let rows = try pool.withConnection { c -> [PostgresRow] in
            if let mjd {
                // The window, every reference, the pinned products: as SQLite's three lookups, deduplicated below.
                return Array(try pool.query(c, """
                    SELECT id, night, setup, mjd, qc_passed, superseded_by, is_reference, availability, 0 AS part FROM product
                    WHERE product_type = \(type.rawValue) AND instrument = \(instrument) AND mjd BETWEEN \(mjd.lowerBound) AND \(mjd.upperBound)
                    UNION ALL
                    SELECT id, night, setup, mjd, qc_passed, superseded_by, is_reference, availability, 1 FROM product
                    WHERE product_type = \(type.rawValue) AND instrument = \(instrument) AND is_reference
                    UNION ALL
                    SELECT id, night, setup, mjd, qc_passed, superseded_by, is_reference, availability, 2 FROM product
                    WHERE id = ANY(\(ids))
                    ORDER BY part, mjd, id
                    """))
            }
            return Array(try pool.query(c, """
                SELECT id, night, setup, mjd, qc_passed, superseded_by, is_reference, availability FROM product
                WHERE product_type = \(type.rawValue) AND instrument = \(instrument) ORDER BY mjd, id
                """))
        }
        var seen: Set<Int64> = []
        var setups: [String: Setup] = [:]
        return try rows.compactMap { row in
            let r = row.makeRandomAccess()
            let id = try r["id"].decode(Int64.self)
            guard seen.insert(id).inserted else { return nil }
            let setupText = try r["setup"].decode(String.self)
            let setup = setups[setupText] ?? ((try? Setup(parsing: setupText)) ?? Setup())
            setups[setupText] = setup
            let mjd = try r["mjd"].decode(Double.self)
            let night = try r["night"].decode(String.self)
            return CalibrationCandidate(
                id: id, type: type, instrument: instrument, night: ObservingNight(night) ?? ObservingNight(mjdDate: mjd),
                setup: setup, mjd: mjd, qcPassed: try r["qc_passed"].decode(Bool.self),
                supersededBy: try r["superseded_by"].decode(Int64?.self), isReference: try r["is_reference"].decode(Bool.self),
                isAvailable: try r["availability"].decode(String.self) == ProductRecord.Availability.available.rawValue)
        }
    }

    static let pinColumns = "id, product_id, product_type, instrument, first_night, last_night, setup, note, created_by, created_at, forced, forced_over"

    public func pins(type: ProductType, instrument: String, night: ObservingNight) throws -> [CalibrationPin] {
        let day = night.description
        return try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.pinColumns) FROM pin
                WHERE product_type = \(type.rawValue) AND instrument = \(instrument)
                  AND first_night <= \(day) COLLATE "C" AND last_night >= \(day) COLLATE "C" AND removed_at IS NULL
                ORDER BY created_at DESC, id DESC
                """).compactMap { try Self.pin(from: $0)?.pin }
        }
    }

    public func pinListing() throws -> [(id: Int64, pin: CalibrationPin, createdAt: Date)] {
        try pool.withConnection { c in
            try pool.query(c, "SELECT \(unescaped: Self.pinColumns) FROM pin WHERE removed_at IS NULL ORDER BY id").compactMap(Self.pin(from:))
        }
    }

    /// As SQLite's `pin(from:)`: a pin naming a type or night this calibd cannot read is left out, not an error.
    static func pin(from row: PostgresRow) throws -> (id: Int64, pin: CalibrationPin, createdAt: Date)? {
        let r = row.makeRandomAccess()
        guard let type = ProductType(rawValue: try r["product_type"].decode(String.self)),
              let first = ObservingNight(try r["first_night"].decode(String.self)),
              let last = ObservingNight(try r["last_night"].decode(String.self)) else { return nil }
        let pin = CalibrationPin(
            productId: try r["product_id"].decode(Int64.self), type: type, instrument: try r["instrument"].decode(String.self),
            firstNight: first, lastNight: last, setup: (try? Setup(parsing: try r["setup"].decode(String.self))) ?? Setup(),
            note: try r["note"].decode(String.self), forced: try r["forced"].decode(Bool.self),
            forcedOver: try r["forced_over"].decode(String?.self), createdBy: try r["created_by"].decode(String.self))
        return (try r["id"].decode(Int64.self), pin, try r["created_at"].decode(Date.self))
    }

    public func addPin(productId: Int64, firstNight: ObservingNight, lastNight: ObservingNight, setup: Setup,
                       note: String, by who: String, forcedOver: String?, now: Date) throws -> Int64 {
        try pool.transaction { c in
            guard let row = try pool.query(c, "SELECT product_type, instrument FROM product WHERE id = \(productId)").first else {
                throw ControlError(refusing: "no product \(productId)")
            }
            guard firstNight <= lastNight else { throw ControlError(refusing: "the first night comes after the last") }
            let (type, instrument) = try row.decode((String, String).self)
            guard let id = try pool.query(c, """
                INSERT INTO pin (product_id, product_type, instrument, first_night, last_night, setup, note, created_by, created_at,
                                 forced, forced_over)
                VALUES (\(productId), \(type), \(instrument), \(firstNight.description), \(lastNight.description), \(setup.canonical),
                        \(note), \(who), \(now), \(forcedOver != nil), \(forcedOver))
                RETURNING id
                """).first.map({ try $0.decode(Int64.self) }) else {
                throw PostgresFailure(message: "pin insert returned no id", sqlState: nil)
            }
            return id
        }
    }

    public func removePin(id: Int64, now: Date) throws {
        let changed = try pool.withConnection { c in
            try pool.query(c, "UPDATE pin SET removed_at = \(now) WHERE id = \(id) AND removed_at IS NULL").metadata.rows ?? 0
        }
        if changed == 0 { throw ControlError(refusing: "no pin \(id) in force") }
    }

    public func setReference(productId: Int64, _ isReference: Bool) throws {
        let changed = try pool.withConnection { c in
            try pool.query(c, "UPDATE product SET is_reference = \(isReference) WHERE id = \(productId)").metadata.rows ?? 0
        }
        if changed == 0 { throw ControlError(refusing: "no product \(productId)") }
    }

    public func setAvailability(productId: Int64, _ availability: ProductRecord.Availability) throws {
        try pool.withConnection { c in
            try pool.query(c, "UPDATE product SET availability = \(availability.rawValue) WHERE id = \(productId)")
        }
    }

    public func instruments(withProductsOf type: ProductType?) throws -> [String] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT DISTINCT instrument COLLATE "C" FROM product WHERE \(type == nil) OR product_type = \(type?.rawValue) ORDER BY 1
                """).map { try $0.decode(String.self) }
        }
    }

    public func productSetups(type: ProductType, instrument: String) throws -> [Setup] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT DISTINCT setup COLLATE "C" FROM product WHERE product_type = \(type.rawValue) AND instrument = \(instrument) ORDER BY 1
                """).compactMap { try? Setup(parsing: try $0.decode(String.self)) }
        }
    }
}
