
/// Recipe parameters and QC ranges scoped to a setup value in the profile:
/// a key `name[arm=BLUE]` applies to jobs whose setup has arm = BLUE and
/// takes precedence over a plain `name`.
///
/// ```yaml
/// parameters: {"referenceOrder[arm=BLUE]": 25, "referenceOrder[arm=RED]": 21}
/// qc: {"orderCount[arm=RED]": {min: 13}}
/// ```
public enum SetupScoped {
    /// Splits `name[key=value]` into its parts (nil scope for a plain name).
    public static func parse(_ key: String) -> (name: String, scope: (key: String, value: String)?) {
        guard key.hasSuffix("]"), let open = key.firstIndex(of: "[") else { return (key, nil) }
        let inner = key[key.index(after: open)..<key.index(before: key.endIndex)]
        let parts = inner.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { return (key, nil) }
        return (String(key[..<open]), (parts[0], parts[1]))
    }

    /// Splits a bare `key=value` scope (as `upstreamBySetup` keys are written); nil if it is not one.
    public static func parseScope(_ scope: String) -> (key: String, value: String)? {
        let parts = scope.split(separator: "=", maxSplits: 1).map { String($0).trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return nil }
        return (parts[0], parts[1])
    }

    /// The parameters that apply to `setup`, scoped keys resolved.
    public static func parameters(_ values: [String: Double], setup: Setup) -> [String: Double] {
        var plain: [String: Double] = [:], scoped: [String: Double] = [:]
        for (key, value) in values {
            let (name, scope) = parse(key)
            if let scope { if setup[scope.key] == scope.value { scoped[name] = value } } else { plain[name] = value }
        }
        return plain.merging(scoped) { _, s in s }
    }

    /// The QC range of a metric for `setup` (scoped first, then plain).
    public static func qcRange(_ ranges: [String: QCRange], metric: String, setup: Setup) -> QCRange? {
        for (key, range) in ranges {
            let (name, scope) = parse(key)
            if name == metric, let scope, setup[scope.key] == scope.value { return range }
        }
        return ranges[metric]
    }
}
