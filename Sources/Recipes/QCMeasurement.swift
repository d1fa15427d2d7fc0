/// One QC figure a recipe measured. Whether it passes is decided by the
/// configured range, outside the recipe.
public struct QCMeasurement: Sendable, Equatable {
    public var name: String
    public var value: Double
    public var unit: String
    public var summary: String

    public init(_ name: String, _ value: Double, unit: String, _ summary: String) {
        self.name = name; self.value = value; self.unit = unit; self.summary = summary
    }
}

/// A recipe parameter that is unknown or out of its domain.
public struct RecipeParameterError: Error, CustomStringConvertible, Sendable {
    public let recipe: String
    public let parameter: String
    public let message: String
    public var description: String { "recipe \(recipe): parameter '\(parameter)': \(message)" }
}

/// Reads numeric parameters with defaults, rejecting names the recipe does not know.
public struct ParameterReader {
    let recipe: String
    let values: [String: Double]
    let known: Set<String>

    public init(recipe: String, values: [String: Double], known: Set<String>) throws(RecipeParameterError) {
        self.recipe = recipe; self.values = values; self.known = known
        for name in values.keys.sorted() where !known.contains(name) {
            throw RecipeParameterError(recipe: recipe, parameter: name, message: "unknown (known: \(known.sorted().joined(separator: ", ")))")
        }
    }

    public func value(_ name: String, default fallback: Double, in domain: ClosedRange<Double>) throws(RecipeParameterError) -> Double {
        let v = values[name] ?? fallback
        guard domain.contains(v) else {
            throw RecipeParameterError(recipe: recipe, parameter: name, message: "\(v) is outside \(domain.lowerBound)…\(domain.upperBound)")
        }
        return v
    }
}

/// Which columns of a raw frame see light and which are overscan.
public struct DetectorRegions: Sendable, Equatable {
    public var science: Range<Int>
    public var overscan: Range<Int>?

    public init(science: Range<Int>, overscan: Range<Int>? = nil) {
        self.science = science; self.overscan = overscan
    }
}
