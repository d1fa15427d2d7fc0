import CalibCore
import Foundation

/// Finds and loads the configuration the same way for `calibd` and
/// `calibctl`, then applies command-line overrides.
public enum ConfigurationLocator {
    /// Where a configuration is looked for when `--config` is not given.
    public static func candidates(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var list: [String] = []
        if let path = environment["CALIBD_CONFIG"], !path.isEmpty { list.append(path) }
        list.append(FileManager.default.currentDirectoryPath + "/config/calibd.yaml")
        list.append("/etc/calibd/calibd.yaml")
        return list
    }

    /// The configuration file to use: `--config`, else `$CALIBD_CONFIG`, else
    /// the first default that exists. A file named by `--config` or
    /// `$CALIBD_CONFIG` must exist: falling back to another file would run
    /// the daemon on a configuration nobody meant.
    public static func locate(configPath: String?,
                              environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> String {
        if let configPath {
            guard FileManager.default.fileExists(atPath: configPath) else {
                throw ConfigurationError(file: configPath, key: "", message: "no such configuration file (given with --config)")
            }
            return configPath
        }
        if let named = environment["CALIBD_CONFIG"], !named.isEmpty {
            guard FileManager.default.fileExists(atPath: named) else {
                throw ConfigurationError(file: named, key: "",
                                         message: "no such configuration file (named by CALIBD_CONFIG); fix or unset CALIBD_CONFIG, or pass --config FILE")
            }
            return named
        }
        if let found = candidates(environment: environment).first(where: { FileManager.default.fileExists(atPath: $0) }) {
            return found
        }
        throw ConfigurationError(file: "(none)", key: "",
                                 message: "no configuration found; pass --config FILE or set CALIBD_CONFIG (looked in \(candidates(environment: environment).joined(separator: ", ")))")
    }

    /// The file `load` reads, or nil when none would be found (worker processes are
    /// handed the same file explicitly, so that they cannot pick another).
    public static func path(for configPath: String?) -> String? {
        try? locate(configPath: configPath)
    }

    /// Loads the configuration for a run, refusing one whose recipes name a
    /// parameter, QC metric or static file their executors do not have (the
    /// first such finding; `ConfigurationChecker` lists them all).
    public static func load(configPath: String?, watch: [String] = [], workspace: String? = nil) throws -> CalibdConfiguration {
        let path = try locate(configPath: configPath)
        var configuration = try ConfigurationLoader.load(path: path)
        let findings = configuration.profiles.flatMap(ConfigurationChecker.recipeFindings)
        if let first = findings.first {
            let more = findings.count > 1 ? " (and \(findings.count - 1) more: run calibd --check-config)" : ""
            throw ConfigurationError(file: first.file, key: first.key, message: first.message + more)
        }
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String {
            URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        }
        if !watch.isEmpty { configuration.watch = watch.map(absolute) }
        if let workspace { configuration.workspace = absolute(workspace) }
        return configuration
    }
}
