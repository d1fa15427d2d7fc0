import CalibCore

extension ConfigurationChecker {
    /// What `calibd --check-config` and `calibctl check-config` print: every
    /// finding (not just the first, as a start would), then a count — or one
    /// line saying the configuration is clean — and whether it is.
    public static func report(configPath: String?) -> (lines: [String], clean: Bool) {
        let path: String
        do { path = try ConfigurationLocator.locate(configPath: configPath) } catch {
            return (["\(error)"], false)
        }
        let findings = findings(configPath: path)
        guard !findings.isEmpty else { return (["\(path): no findings"], true) }
        return (findings.map { "\($0)" }
                    + ["\(findings.count) finding\(findings.count == 1 ? "" : "s") in \(path) and its instrument profiles"], false)
    }
}
