import Foundation
import Pipeline

/// Prints an answer as `JSONOutput` encodes it (one encoding for every verb).
func printJSON<T: Encodable>(_ value: T) throws {
    print(String(decoding: try JSONOutput.encode(value), as: UTF8.self))
}
