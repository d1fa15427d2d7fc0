import CalibCore
import Foundation

/// The one JSON encoding of every calibctl answer and export: sorted keys,
/// camelCase, times as ISO 8601 in UTC to the second (`2026-11-21T23:59:59Z`),
/// no escaped slashes in paths. The entity types beside this file are the
/// schemas of `docs/schema/*.schema.json`.
public enum JSONOutput {
    public static func encode<T: Encodable>(_ value: T, pretty: Bool = true) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = pretty ? [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes] : [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(timestamp(date))
        }
        // JSON has no NaN: a non-finite figure is written as null (nothing measured).
        encoder.nonConformingFloatEncodingStrategy = .throw
        return try encoder.encode(value)
    }

    /// `2026-11-21T23:59:59Z`: whole seconds, UTC, as the schemas' `format: date-time` says.
    public static func timestamp(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        formatter.timeZone = TimeZone(identifier: "UTC")
        return formatter.string(from: date)
    }

    /// A stored setup (`arm=RED binx=1`) as an object; nil when there is none.
    public static func setup(_ canonical: String?) -> [String: String]? {
        guard let canonical else { return nil }
        return ((try? Setup(parsing: canonical)) ?? Setup()).values
    }

    /// nil for NaN and ±∞, which JSON cannot hold.
    public static func finite(_ value: Double?) -> Double? {
        guard let value, value.isFinite else { return nil }
        return value
    }
}
