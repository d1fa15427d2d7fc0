import Foundation

/// A JSON document with its types exactly as written (a `true` is never the
/// number 1), for schema checks.
indirect enum JSONNode: Decodable, Equatable {
    case null, bool(Bool), integer(Int64), number(Double), string(String), array([JSONNode]), object([String: JSONNode])

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let i = try? c.decode(Int64.self) { self = .integer(i) }
        else if let d = try? c.decode(Double.self) { self = .number(d) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let a = try? c.decode([JSONNode].self) { self = .array(a) }
        else { self = .object(try c.decode([String: JSONNode].self)) }
    }

    static func parse(_ text: String) throws -> JSONNode { try JSONDecoder().decode(JSONNode.self, from: Data(text.utf8)) }

    var object: [String: JSONNode]? { if case .object(let o) = self { o } else { nil } }
    var array: [JSONNode]? { if case .array(let a) = self { a } else { nil } }
    var string: String? { if case .string(let s) = self { s } else { nil } }
    subscript(key: String) -> JSONNode? { object?[key] }
}

/// The subset of JSON Schema (2020-12) that `docs/schema/` uses: `type`
/// (one or a list), `required`, `properties`, `additionalProperties`
/// (false or a schema), `items`, `enum`, `anyOf`, `$ref` to a sibling file,
/// and `format` `date` (YYYY-MM-DD) and `date-time` (UTC, `…T…Z`).
/// Returns every violation with its JSON path, so a failing test says where.
struct JSONSchemaValidator {
    let directory: String

    init(directory: String) { self.directory = directory }

    func schema(named file: String) throws -> JSONNode {
        try JSONNode.parse(try String(contentsOfFile: directory + "/" + file, encoding: .utf8))
    }

    func validate(_ value: JSONNode, against file: String) throws -> [String] {
        try validate(value, try schema(named: file), path: "$")
    }

    func validate(_ value: JSONNode, _ schema: JSONNode, path: String) throws -> [String] {
        if let ref = schema["$ref"]?.string { return try validate(value, try self.schema(named: ref), path: path) }
        var problems: [String] = []
        if let anyOf = schema["anyOf"]?.array {
            let results = try anyOf.map { try validate(value, $0, path: path) }
            if !results.contains(where: \.isEmpty) { problems.append("\(path): matches none of anyOf (\(results.flatMap { $0 }.joined(separator: "; ")))") }
        }
        if let type = schema["type"] {
            let allowed = type.array?.compactMap(\.string) ?? [type.string].compactMap { $0 }
            if !allowed.contains(where: { Self.matches(value, $0) }) {
                problems.append("\(path): expected \(allowed.joined(separator: " or ")), found \(Self.describe(value))")
                return problems
            }
        }
        if let options = schema["enum"]?.array, !options.contains(value) {
            problems.append("\(path): \(Self.describe(value)) is not one of the documented values")
        }
        if let format = schema["format"]?.string, case .string(let text) = value {
            let pattern = format == "date" ? #"^\d{4}-\d{2}-\d{2}$"# : format == "date-time" ? #"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"# : ".*"
            if text.range(of: pattern, options: .regularExpression) == nil { problems.append("\(path): '\(text)' is not a \(format)") }
        }
        if case .object(let object) = value {
            for key in schema["required"]?.array?.compactMap(\.string) ?? [] where object[key] == nil {
                problems.append("\(path): required key '\(key)' is missing")
            }
            let properties = schema["properties"]?.object ?? [:]
            for (key, child) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] {
                    problems += try validate(child, property, path: "\(path).\(key)")
                } else if let extra = schema["additionalProperties"] {
                    if extra == .bool(false) { problems.append("\(path): key '\(key)' is not documented") }
                    else if extra.object != nil { problems += try validate(child, extra, path: "\(path).\(key)") }
                }
            }
        }
        if case .array(let items) = value, let itemSchema = schema["items"] {
            for (i, item) in items.enumerated() { problems += try validate(item, itemSchema, path: "\(path)[\(i)]") }
        }
        return problems
    }

    static func matches(_ value: JSONNode, _ type: String) -> Bool {
        switch (type, value) {
        case ("null", .null), ("boolean", .bool), ("integer", .integer), ("number", .integer), ("number", .number),
             ("string", .string), ("array", .array), ("object", .object): true
        default: false
        }
    }

    static func describe(_ value: JSONNode) -> String {
        switch value {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .integer(let i): "integer \(i)"
        case .number(let d): "number \(d)"
        case .string(let s): "string '\(s.prefix(40))'"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
