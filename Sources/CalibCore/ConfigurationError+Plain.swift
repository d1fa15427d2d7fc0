import Foundation

/// Plain words for what Swift's decoders say, so that a person reading a
/// configuration error sees "expected an integer, found a mapping", not
/// "Expected to decode Int but found Scalar instead".
extension ConfigurationError {
    /// Rewrites a decoder's debug description: `Expected to decode Int but
    /// found a dictionary instead.` → `found a mapping`; `Cannot initialize
    /// FrameType from invalid String value BAIS` → `'BAIS' is not a known
    /// FrameType (known: …)`. Text it does not recognise is kept as it is.
    static func plain(_ text: String) -> String {
        if let range = text.range(of: "Cannot initialize "), let from = text.range(of: " from invalid ", range: range.upperBound..<text.endIndex),
           let value = text.range(of: " value ", range: from.upperBound..<text.endIndex) {
            let type = String(text[range.upperBound..<from.lowerBound])
            let bad = String(text[value.upperBound...]).trimmingCharacters(in: CharacterSet(charactersIn: ". "))
            let known: [String]? = switch type {
            case "FrameType": FrameType.allCases.map(\.rawValue)
            case "ProductType": ProductType.allCases.map(\.rawValue)
            default: nil
            }
            return "'\(bad)' is not a known \(type)" + (known.map { " (known: \($0.joined(separator: ", ")))" } ?? "")
        }
        if text.hasPrefix("Expected to decode "), let but = text.range(of: " but found ") {
            let found = text[but.upperBound...].replacingOccurrences(of: " instead.", with: "")
            let words = switch found {
            case "Scalar", "a scalar", "a string/data", "a number", "a string": "a single value"
            case "Mapping", "a dictionary": "a mapping"
            case "Sequence", "an array": "a list"
            case "null", "Null": "nothing"
            default: found
            }
            return "found \(words)"
        }
        return text
    }
}
