import CalibCore
import Foundation

/// Everything that can be wrong with a configuration, found before a night
/// depends on it: unknown keys at any depth (with the nearest valid name),
/// what the loader refuses, and per recipe what only the recipe's executor
/// knows — its name, its parameters, the QC metrics it emits and the static
/// files it reads. `calibd --check-config` and `calibctl check-config` print
/// every finding; loading for a run (`ConfigurationLocator.load`) refuses the
/// first, so the daemon never starts on a configuration it would stall on.
public enum ConfigurationChecker {
    /// Every finding for the configuration file at `path`, each naming its file and key path; empty when clean.
    public static func findings(configPath: String) -> [ConfigurationError] {
        let path = URL(fileURLWithPath: configPath).standardizedFileURL.path
        var found = ConfigurationLoader.unknownKeys(at: path, schema: .daemonFile)
        do {
            let configuration = try ConfigurationLoader.load(path: path)
            for profile in configuration.profiles {
                found += ConfigurationLoader.unknownKeys(at: profile.source, schema: .profileFile)
                found += recipeFindings(profile)
            }
        } catch {
            found.append(error)
            // The loader stops at its first error; look at every profile on its own so that all are reported.
            for file in ConfigurationLoader.profileFiles(configPath: path) {
                found += ConfigurationLoader.unknownKeys(at: file, schema: .profileFile)
                do { found += recipeFindings(try ConfigurationLoader.loadProfile(path: file, strictKeys: false)) } catch { found.append(error) }
            }
        }
        var seen: Set<String> = []
        return found.filter { seen.insert($0.description).inserted }
    }

    /// What only the executors know: every recipe of `profile` has an
    /// implementation, every parameter is one it reads, every QC range names a
    /// metric it emits, and every static file it reads exists.
    public static func recipeFindings(_ profile: InstrumentProfile) -> [ConfigurationError] {
        var found: [ConfigurationError] = []
        func finding(_ key: String, _ message: String) { found.append(ConfigurationError(file: profile.source, key: key, message: message)) }
        let known = RecipeCatalog.executors.keys.sorted()
        for (index, recipe) in profile.recipes.enumerated() {
            let key = "recipes[\(index)]"
            guard let executor = RecipeCatalog.executors[recipe.name] else {
                finding("\(key).name", "no recipe implementation named '\(recipe.name)'\(NearestName.hint(for: recipe.name, among: known)) "
                        + "(known: \(known.joined(separator: ", ")))")
                continue
            }
            for parameter in recipe.parameters.keys.sorted() {
                let (name, scope) = SetupScoped.parse(parameter)
                if !executor.parameterNames.contains(name) {
                    finding("\(key).parameters.\(parameter)",
                            "recipe \(recipe.name) has no parameter '\(name)'\(NearestName.hint(for: name, among: executor.parameterNames)) "
                            + "(known: \(executor.parameterNames.sorted().joined(separator: ", ")))")
                }
                if let scope { scopeFinding(scope, at: "\(key).parameters.\(parameter)", profile: profile, finding) }
            }
            for metric in recipe.qc.keys.sorted() {
                let (name, scope) = SetupScoped.parse(metric)
                if !executor.metricNames.contains(name) {
                    finding("\(key).qc.\(metric)",
                            "recipe \(recipe.name) emits no QC metric '\(name)', so this range would never be applied"
                            + "\(NearestName.hint(for: name, among: executor.metricNames)) "
                            + "(it emits: \(executor.metricNames.sorted().joined(separator: ", ")))")
                }
                if let scope { scopeFinding(scope, at: "\(key).qc.\(metric)", profile: profile, finding) }
            }
            for suffix in executor.staticFileSuffixes {
                for missing in missingStaticFiles(profile: profile, suffix: suffix) {
                    finding(key, "recipe \(recipe.name) reads the static file \(missing), which is missing")
                }
            }
        }
        return found
    }

    static func scopeFinding(_ scope: (key: String, value: String), at key: String, profile: InstrumentProfile,
                             _ finding: (String, String) -> Void) {
        guard profile.setupKeys[scope.key] == nil else { return }
        let names = profile.setupKeys.keys.sorted()
        finding(key, "'\(scope.key)' in the scope is not a setup key of \(profile.name)\(NearestName.hint(for: scope.key, among: names)) "
                + "(known: \(names.joined(separator: ", ")))")
    }

    /// The static files a recipe would look for and not find. With an `arm`
    /// setup key, one file per arm the profile names (in `[arm=…]` scopes);
    /// when it names none, at least one arm's file must exist.
    static func missingStaticFiles(profile: InstrumentProfile, suffix: String) -> [String] {
        guard profile.setupKeys["arm"] != nil else {
            let path = ArcFrameLoader.staticPath(profile: profile, arm: nil, suffix: suffix)
            return FileManager.default.fileExists(atPath: path) ? [] : [path]
        }
        let scoped = profile.recipes.flatMap { Array($0.parameters.keys) + Array($0.qc.keys) }
            .compactMap { SetupScoped.parse($0).scope }.filter { $0.key == "arm" }.map(\.value)
        let arms = Set(scoped).sorted()
        if arms.isEmpty {
            let directory = ArcFrameLoader.staticDirectory(profile: profile)
            let any = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
                .contains { $0.hasPrefix(profile.name + "_") && $0.hasSuffix(suffix) }
            return any ? [] : [ArcFrameLoader.staticPath(profile: profile, arm: "<ARM>", suffix: suffix)]
        }
        return arms.map { ArcFrameLoader.staticPath(profile: profile, arm: $0, suffix: suffix) }
            .filter { !FileManager.default.fileExists(atPath: $0) }
    }
}
