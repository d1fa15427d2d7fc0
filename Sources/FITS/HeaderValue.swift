/// The value of one header card, typed the way FITS distinguishes values in the card image.
public enum HeaderValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case real(Double)
    case logical(Bool)
    /// A keyword without a value, and commentary cards (COMMENT, HISTORY, blank keyword).
    case undefined

    /// Strings as stored; numbers in Swift's shortest round-trip form; logicals as FITS spells them ("T"/"F").
    public var stringValue: String? {
        switch self {
        case .string(let text): text
        case .integer(let number): String(number)
        case .real(let number): String(number)
        case .logical(let flag): flag ? "T" : "F"
        case .undefined: nil
        }
    }

    /// Numeric values, plus strings holding a number, because instruments often write numbers as strings.
    public var doubleValue: Double? {
        switch self {
        case .integer(let number): Double(number)
        case .real(let number): number
        case .string(let text): Double(text.trimmingBlanks())
        case .logical, .undefined: nil
        }
    }

    /// Integers, reals that are exactly integral, and strings holding an integer.
    public var intValue: Int64? {
        switch self {
        case .integer(let number): number
        case .real(let number): Int64(exactly: number)
        case .string(let text): Int64(text.trimmingBlanks())
        case .logical, .undefined: nil
        }
    }

    /// Only true logicals; "T"/"F" strings are not reinterpreted.
    public var boolValue: Bool? {
        if case .logical(let flag) = self { flag } else { nil }
    }
}
