/// The instrument configuration a frame was taken in (arm, binning, read
/// speed, …): the values of the profile's setup keys, by logical name.
///
/// Two frames can only be combined, and a calibration only applied, when the
/// setup keys a recipe names agree. The canonical text form sorts keys so the
/// same setup always reads (and is stored) the same way.
public struct Setup: Hashable, Sendable, Codable, CustomStringConvertible {
    public private(set) var values: [String: String]

    public init(_ values: [String: String] = [:]) { self.values = values }

    public subscript(key: String) -> String? {
        get { values[key] }
        set { values[key] = newValue }
    }

    /// Only the named keys; a key the setup lacks is left out.
    public func restricted(to keys: [String]) -> Setup {
        Setup(values.filter { keys.contains($0.key) })
    }

    /// `arm=RED binx=1 biny=1 readSpeed=100k`
    public var canonical: String {
        values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
    }

    public var description: String { canonical }

    /// Parses the canonical form (or `k=v` words from a command line).
    public init(parsing text: String) throws(SetupParseError) {
        var values: [String: String] = [:]
        for word in text.split(whereSeparator: { $0 == " " || $0 == "," }) {
            guard let eq = word.firstIndex(of: "="), eq != word.startIndex else {
                throw SetupParseError(word: String(word))
            }
            values[String(word[..<eq])] = String(word[word.index(after: eq)...])
        }
        self.values = values
    }

    /// True when the two setups have the same value for every key both have.
    public func agrees(with other: Setup) -> Bool {
        values.allSatisfy { key, value in other.values[key].map { $0 == value } ?? true }
    }

    /// True when every key of `other` has the same value here.
    public func satisfies(_ other: Setup) -> Bool {
        other.values.allSatisfy { values[$0.key] == $0.value }
    }
}

public struct SetupParseError: Error, CustomStringConvertible {
    public let word: String
    public var description: String { "setup term '\(word)' is not of the form key=value" }
}
