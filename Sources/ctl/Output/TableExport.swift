import CSV
import Foundation
import Pipeline

/// `calibctl export`: one entity per row, in the same form as the verbs'
/// `--json` answers (`FrameJSON`, `JobJSON`, `ProductJSON`, `QCMetricJSON`),
/// so a column is called what the JSON key is called.
///
/// CSV cells: null is empty, booleans `true`/`false`, numbers as JSON writes
/// them, times ISO 8601; an object (a setup, a job's parameters) as its
/// canonical `key=value key=value` text and a list (a frame's paths) joined
/// by `;` — CSV has no nesting, and these forms are the ones `--setup` reads.
/// Quoting is CSV.swift's (RFC 4180), not hand-rolled.
enum TableExport {
    /// CSV with a header row of the entities' keys, sorted as the JSON is.
    static func csv<T: Encodable>(_ rows: [T], columns fallback: [String]) throws -> String {
        let objects = try JSONSerialization.jsonObject(with: JSONOutput.encode(rows, pretty: false)) as? [[String: Any]] ?? []
        let columns = objects.first.map { Array($0.keys).sorted() } ?? fallback
        let stream = OutputStream.toMemory()
        let writer = try CSVWriter(stream: stream)
        try writer.write(row: columns)
        for object in objects {
            try writer.write(row: columns.map { cell(object[$0]) })
        }
        writer.stream.close()
        let data = stream.property(forKey: .dataWrittenToMemoryStreamKey) as? Data ?? Data()
        return String(decoding: data, as: UTF8.self)
    }

    static func cell(_ value: Any?) -> String {
        switch value {
        case nil, is NSNull: return ""
        case let number as NSNumber where String(cString: number.objCType) == "c": return number.boolValue ? "true" : "false"
        case let number as NSNumber:
            // The JSON text of the number, so a CSV cell and a JSON value read the same.
            return (try? JSONSerialization.data(withJSONObject: [number])).map {
                String(decoding: $0.dropFirst().dropLast(), as: UTF8.self)
            } ?? "\(number)"
        case let text as String: return text
        case let list as [Any]: return list.map { cell($0) }.joined(separator: ";")
        case let object as [String: Any]:
            return object.keys.sorted().map { key in
                let inner = object[key]
                if inner is [String: Any] || inner is [Any], let data = try? JSONSerialization.data(withJSONObject: inner!, options: [.sortedKeys]) {
                    return "\(key)=\(String(decoding: data, as: UTF8.self))"
                }
                return "\(key)=\(cell(inner))"
            }.joined(separator: " ")
        default: return "\(value!)"
        }
    }
}
