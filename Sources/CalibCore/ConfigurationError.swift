/// A configuration problem, naming the file, the key and what is wrong, so
/// that whoever edits the file can fix it without reading code.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    public let file: String
    /// Dotted key path, e.g. `recipes[0].inputs.min`; empty for the whole file.
    public let key: String
    public let message: String

    public init(file: String, key: String, message: String) {
        self.file = file; self.key = key; self.message = message
    }

    public var description: String {
        key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)"
    }

    /// Turns Swift's decoding errors into a key path and a sentence.
    public static func from(_ error: any Error, file: String) -> ConfigurationError {
        guard let error = error as? DecodingError else {
            return ConfigurationError(file: file, key: "", message: "\(error)")
        }
        func path(_ codingPath: [any CodingKey]) -> String {
            codingPath.reduce(into: "") { text, key in
                if let index = key.intValue { text += "[\(index)]" }
                else { text += text.isEmpty ? key.stringValue : ".\(key.stringValue)" }
            }
        }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context.codingPath)
            return ConfigurationError(
                file: file, key: parent.isEmpty ? key.stringValue : "\(parent).\(key.stringValue)",
                message: "required key is missing")
        case .typeMismatch(let type, let context):
            return ConfigurationError(file: file, key: path(context.codingPath),
                                      message: Self.mismatch(expected: Self.describe(type), plain(context.debugDescription)))
        case .valueNotFound(let type, let context):
            return ConfigurationError(file: file, key: path(context.codingPath),
                                      message: "expected \(Self.describe(type)), found nothing")
        case .dataCorrupted(let context):
            return ConfigurationError(file: file, key: path(context.codingPath),
                                      message: Self.clean(plain(context.debugDescription), underlying: context.underlyingError))
        @unknown default:
            return ConfigurationError(file: file, key: "", message: "\(error)")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Int.Type: "an integer"
        case is Double.Type: "a number"
        case is Bool.Type: "true or false"
        // Yams names its node kinds when the target type is not known yet.
        default: "\(type)".hasPrefix("Array") || "\(type)" == "Sequence" ? "a list"
            : "\(type)".hasPrefix("Dictionary") || "\(type)" == "Mapping" ? "a mapping"
            : "\(type)" == "Scalar" ? "a single value" : "\(type)"
        }
    }

    /// "expected an integer, found a list"; a scalar of the wrong kind ("abc" for an integer) just "expected an integer".
    private static func mismatch(expected: String, _ found: String) -> String {
        found == "found a single value" ? "expected \(expected)" : "expected \(expected), \(found)"
    }

    private static func clean(_ text: String, underlying: (any Error)?) -> String {
        if let underlying { return "\(text) (\(underlying))" }
        return text
    }
}
