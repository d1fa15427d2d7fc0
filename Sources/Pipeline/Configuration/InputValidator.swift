import CalibCore
import CalibDB
import Foundation

/// The one place where what a person types is checked before a verb acts
/// on it: nights, product types, job states, recipes, QC metric
/// names, lamps, instruments and setup terms. Every check either returns
/// the canonical value (types, states, recipes, metrics and setup keys match
/// case-insensitively, as people type them) or throws a `UserFacingError`
/// (`.usage`) that says what was wrong and lists the valid values, so that a
/// typo never turns into an empty table and exit status 0.
public enum InputValidator {
    /// A night, strictly `YYYY-MM-DD` and a real calendar date (2026-11-31 is refused).
    public static func night(_ text: String, option: String = "--night") throws(UserFacingError) -> ObservingNight {
        let digits = text.unicodeScalars.map { CharacterSet.decimalDigits.contains($0) }
        let shaped = text.count == 10 && text.unicodeScalars.enumerated().allSatisfy { i, c in
            i == 4 || i == 7 ? c == "-" : digits[i]
        }
        guard shaped, let night = ObservingNight(text) else {
            throw UserFacingError(.usage, "\(option) '\(text)' is not a night: nights are written YYYY-MM-DD",
                                  remedy: "e.g. \(option) 2026-11-21")
        }
        // The day must exist in its month: a date that does not round-trip through the calendar does not.
        guard ObservingNight(mjdDate: night.startDateMJD) == night else {
            throw UserFacingError(.usage, "\(option) '\(text)' is not a calendar date (no day \(night.day) in \(monthName(night)))")
        }
        return night
    }

    /// A range of nights written `FIRST..LAST` (both included, e.g. `2016-01-01..2025-12-31`),
    /// each a calendar date, the first not after the last.
    public static func nights(_ text: String, option: String = "--nights") throws(UserFacingError) -> ClosedRange<ObservingNight> {
        let ends = text.components(separatedBy: "..")
        guard ends.count == 2, !ends[0].isEmpty, !ends[1].isEmpty else {
            throw UserFacingError(.usage, "\(option) '\(text)' is not a range of nights: write FIRST..LAST",
                                  remedy: "e.g. \(option) 2016-01-01..2025-12-31 (both nights included)")
        }
        let first = try night(ends[0], option: option)
        let last = try night(ends[1], option: option)
        guard first <= last else {
            throw UserFacingError(.usage, "\(option) '\(text)' ends before it starts",
                                  remedy: "write the earlier night first: \(option) \(last)..\(first)")
        }
        return first...last
    }

    /// An optional night (`nil` stays `nil`).
    public static func night(ifGiven text: String?, option: String = "--night") throws(UserFacingError) -> ObservingNight? {
        guard let text else { return nil }
        return try night(text, option: option)
    }

    public static func productType(_ text: String, option: String = "--type") throws(UserFacingError) -> ProductType {
        try oneOf(text, ProductType.allCases.map(\.rawValue), what: "product type", option: option).flatMap(ProductType.init(rawValue:))!
    }

    public static func productType(ifGiven text: String?, option: String = "--type") throws(UserFacingError) -> ProductType? {
        guard let text else { return nil }
        return try productType(text, option: option)
    }

    public static func jobState(_ text: String, option: String = "--state") throws(UserFacingError) -> JobState {
        try oneOf(text, JobState.allCases.map(\.rawValue), what: "job state", option: option).flatMap(JobState.init(rawValue:))!
    }

    /// A recipe some loaded profile configures.
    public static func recipe(_ text: String, in configuration: CalibdConfiguration, option: String = "--recipe") throws(UserFacingError) -> String {
        let names = Set(configuration.profiles.flatMap { $0.recipes.map(\.name) }).sorted()
        return try oneOf(text, names, what: "recipe", option: option)!
    }

    /// A QC metric some configured recipe emits (as its executor declares).
    public static func metric(_ text: String, in configuration: CalibdConfiguration, option: String = "metric") throws(UserFacingError) -> String {
        let recipes = Set(configuration.profiles.flatMap { $0.recipes.map(\.name) })
        let names = recipes.compactMap { RecipeCatalog.executors[$0] }.reduce(into: Set<String>()) { $0.formUnion($1.metricNames) }.sorted()
        return try oneOf(text, names, what: "QC metric", option: option)!
    }

    /// An instrument profile by name.
    public static func instrument(_ text: String, in configuration: CalibdConfiguration,
                                  option: String = "--instrument") throws(UserFacingError) -> InstrumentProfile {
        let name = try oneOf(text, configuration.profiles.map(\.name), what: "instrument", option: option)!
        return configuration.profiles.first { $0.name == name }!
    }

    /// A lamp label the profiles name or recorded frames carry.
    public static func lamp(_ text: String, in configuration: CalibdConfiguration, recorded: [String],
                            option: String = "--lamp") throws(UserFacingError) -> String {
        var names = Set(recorded)
        for profile in configuration.profiles {
            names.formUnion(profile.classification.compactMap(\.lamp))
            for recipe in profile.recipes {
                if let lamp = recipe.inputs.lamp { names.insert(lamp) }
                if let stitch = recipe.inputs.stitch { names.formUnion([stitch.blue, stitch.red]) }
            }
        }
        return try oneOf(text, names.sorted(), what: "lamp", option: option)!
    }

    /// `key=value` setup terms with their keys among `keys` (case-insensitive,
    /// returned as the profile spells them) and a non-empty value.
    public static func setup(_ terms: [String], keys: [String], option: String = "--setup") throws(UserFacingError) -> Setup {
        var setup = Setup()
        for term in terms.flatMap({ $0.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init) }) {
            guard let eq = term.firstIndex(of: "="), eq != term.startIndex, term.index(after: eq) != term.endIndex else {
                throw UserFacingError(.usage, "\(option) '\(term)' is not of the form key=value",
                                      remedy: "e.g. \(option) arm=RED (keys: \(keys.sorted().joined(separator: ", ")))")
            }
            let key = try oneOf(String(term[..<eq]), keys, what: "setup key", option: option)!
            setup[key] = String(term[term.index(after: eq)...])
        }
        return setup
    }

    /// `text` as spelt in `valid`, matched case-insensitively, or a refusal listing `valid` with the nearest one.
    static func oneOf(_ text: String, _ valid: [String], what: String, option: String) throws(UserFacingError) -> String? {
        if valid.contains(text) { return text }
        let folded = valid.filter { $0.caseInsensitiveCompare(text) == .orderedSame }
        if folded.count == 1 { return folded[0] }
        let hint = NearestName.suggestion(for: text, among: valid).map { "did you mean \($0)? " } ?? ""
        throw UserFacingError(.usage, "\(option): unknown \(what) '\(text)'",
                              remedy: "\(hint)valid: \(valid.isEmpty ? "none configured" : valid.joined(separator: ", "))")
    }

    static func monthName(_ night: ObservingNight) -> String {
        let names = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
                     "November", "December"]
        return "\(names[night.month - 1]) \(night.year)"
    }
}
