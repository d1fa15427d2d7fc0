import Foundation

/// Any JSON value, for data that is stored as JSON text (a job's
/// parameters) and must appear in an answer as JSON, not as a string
/// holding JSON.
public enum JSONValue: Sendable, Equatable, Encodable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Parses JSON text; text that is not JSON becomes a string, so nothing stored is lost.
    public init(parsing text: String) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) else {
            self = .string(text); return
        }
        self.init(any: object)
    }

    init(any value: Any) {
        switch value {
        // A JSON true/false arrives as an NSNumber of objCType "c"; 0 and 1 as integers.
        case let n as NSNumber where String(cString: n.objCType) == "c": self = .bool(n.boolValue)
        case let n as NSNumber: self = n.doubleValue.isFinite ? .number(n.doubleValue) : .null
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(a.map(JSONValue.init(any:)))
        case let d as [String: Any]: self = .object(d.mapValues(JSONValue.init(any:)))
        default: self = .null
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let b): try container.encode(b)
        case .number(let n):
            // Whole numbers as integers ("degree": 3, not 3.0) when they fit.
            if n == n.rounded(), abs(n) < 9e15 { try container.encode(Int64(n)) } else { try container.encode(n) }
        case .string(let s): try container.encode(s)
        case .array(let a): try container.encode(a)
        case .object(let o): try container.encode(o)
        }
    }
}
