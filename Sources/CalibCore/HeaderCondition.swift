import FITS
import Foundation

/// A declarative test over a frame's header, as written in an instrument
/// profile. Conditions combine with `all`, `any` and `not`; a leaf names one
/// keyword and one test:
///
/// ```yaml
/// all:
///   - {key: ESO DPR CATG, equals: CALIB}
///   - {key: ESO DPR TYPE, in: [BIAS, "BIAS,DETCHECK"]}
///   - {key: EXPTIME, range: [0, 0.01]}
///   - {key: ESO INS LAMP1 NAME, matches: "QTH*"}      # glob; `regex:` for a regular expression
///   - {key: SBCCAS_P, present: true}
///   - not: {key: OBSTYPE, equals: OBJECT}
/// ```
///
/// `equals` and `in` compare numerically when both sides are numbers
/// (`EXPTIME: 0` equals `0.0`), otherwise as trimmed strings.
public indirect enum HeaderCondition: Sendable, Equatable {
    case all([HeaderCondition])
    case any([HeaderCondition])
    case not(HeaderCondition)
    case test(key: String, HeaderTest)
}

public enum HeaderTest: Sendable, Equatable {
    case equals(String)
    case oneOf([String])
    case glob(String)
    case regex(String)
    case range(lower: Double?, upper: Double?)
    case present(Bool)
}

/// The result of evaluating a condition: a missing keyword is neither a match
/// nor a clean mismatch, so the classifier can say "lacks ESO DPR TYPE"
/// instead of quietly calling the frame UNKNOWN.
public enum ConditionOutcome: Equatable, Sendable {
    case match
    case noMatch
    case missing(Set<String>)
}

extension HeaderCondition {
    public func evaluate(_ header: FITSHeader) -> ConditionOutcome {
        switch self {
        case .all(let parts):
            var missing: Set<String> = []
            for part in parts {
                switch part.evaluate(header) {
                case .noMatch: return .noMatch
                case .missing(let keys): missing.formUnion(keys)
                case .match: break
                }
            }
            return missing.isEmpty ? .match : .missing(missing)
        case .any(let parts):
            var missing: Set<String> = []
            for part in parts {
                switch part.evaluate(header) {
                case .match: return .match
                case .missing(let keys): missing.formUnion(keys)
                case .noMatch: break
                }
            }
            return missing.isEmpty ? .noMatch : .missing(missing)
        case .not(let inner):
            switch inner.evaluate(header) {
            case .match: return .noMatch
            case .noMatch: return .match
            case .missing(let keys): return .missing(keys)
            }
        case .test(let key, let test):
            let value = header[key]
            if case .present(let wanted) = test {
                let isPresent = value != nil && value != .undefined
                return isPresent == wanted ? .match : .noMatch
            }
            guard let value, value != .undefined else { return .missing([key]) }
            return test.accepts(value) ? .match : .noMatch
        }
    }

    /// Every keyword this condition reads.
    public var keywords: Set<String> {
        switch self {
        case .all(let parts), .any(let parts): parts.reduce(into: []) { $0.formUnion($1.keywords) }
        case .not(let inner): inner.keywords
        case .test(let key, _): [key]
        }
    }
}

extension HeaderTest {
    func accepts(_ value: HeaderValue) -> Bool {
        let text = (value.stringValue ?? "").trimmingCharacters(in: .whitespaces)
        switch self {
        case .equals(let wanted):
            return Self.same(text, value, wanted)
        case .oneOf(let options):
            return options.contains { Self.same(text, value, $0) }
        case .glob(let pattern):
            return fnmatch(pattern, text, 0) == 0
        case .regex(let pattern):
            return text.range(of: pattern, options: .regularExpression) != nil
        case .range(let lower, let upper):
            guard let number = value.doubleValue else { return false }
            return (lower.map { number >= $0 } ?? true) && (upper.map { number <= $0 } ?? true)
        case .present:
            return true
        }
    }

    private static func same(_ text: String, _ value: HeaderValue, _ wanted: String) -> Bool {
        let wanted = wanted.trimmingCharacters(in: .whitespaces)
        if let number = value.doubleValue, let target = Double(wanted) { return number == target }
        return text == wanted
    }
}

extension HeaderCondition: Decodable {
    private enum Keys: String, CodingKey, CaseIterable {
        case all, any, not, key, equals, `in`, matches, regex, range, min, max, present
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        if let parts = try c.decodeIfPresent([HeaderCondition].self, forKey: .all) {
            self = .all(parts); return
        }
        if let parts = try c.decodeIfPresent([HeaderCondition].self, forKey: .any) {
            self = .any(parts); return
        }
        if let inner = try c.decodeIfPresent(HeaderCondition.self, forKey: .not) {
            self = .not(inner); return
        }
        guard let key = try c.decodeIfPresent(String.self, forKey: .key) else {
            throw DecodingError.dataCorrupted(.init(
                codingPath: c.codingPath,
                debugDescription: "a condition needs 'all', 'any', 'not' or 'key' with one test"))
        }
        var tests: [HeaderTest] = []
        if let v = try c.decodeIfPresent(ScalarText.self, forKey: .equals) { tests.append(.equals(v.text)) }
        if let v = try c.decodeIfPresent([ScalarText].self, forKey: .in) { tests.append(.oneOf(v.map(\.text))) }
        if let v = try c.decodeIfPresent(String.self, forKey: .matches) { tests.append(.glob(v)) }
        if let v = try c.decodeIfPresent(String.self, forKey: .regex) {
            guard (try? NSRegularExpression(pattern: v)) != nil else {
                throw DecodingError.dataCorruptedError(forKey: .regex, in: c, debugDescription: "'\(v)' is not a valid regular expression")
            }
            tests.append(.regex(v))
        }
        if let v = try c.decodeIfPresent([Double].self, forKey: .range) {
            guard v.count == 2, v[0] <= v[1] else {
                throw DecodingError.dataCorruptedError(forKey: .range, in: c, debugDescription: "range must be [lower, upper] with lower ≤ upper")
            }
            tests.append(.range(lower: v[0], upper: v[1]))
        }
        let lower = try c.decodeIfPresent(Double.self, forKey: .min)
        let upper = try c.decodeIfPresent(Double.self, forKey: .max)
        if lower != nil || upper != nil { tests.append(.range(lower: lower, upper: upper)) }
        if let v = try c.decodeIfPresent(Bool.self, forKey: .present) { tests.append(.present(v)) }
        guard tests.count == 1 else {
            throw DecodingError.dataCorruptedError(
                forKey: .key, in: c,
                debugDescription: tests.isEmpty
                    ? "condition on '\(key)' has no test (equals, in, matches, regex, range, min/max, present)"
                    : "condition on '\(key)' has \(tests.count) tests; use 'all' to combine them")
        }
        self = .test(key: key, tests[0])
    }
}

/// A YAML scalar read as text whatever its YAML type (`0`, `0.0`, `CALIB`, `true`).
struct ScalarText: Decodable {
    let text: String
    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { text = s }
        else if let i = try? c.decode(Int.self) { text = String(i) }
        else if let d = try? c.decode(Double.self) { text = String(d) }
        else if let b = try? c.decode(Bool.self) { text = b ? "T" : "F" }
        else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a scalar value") }
    }
}
