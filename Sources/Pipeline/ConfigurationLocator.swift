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

    /// The file `load` reads: `configPath` when given, else the first candidate that exists.
    public static func path(for configPath: String?) -> String? {
        configPath ?? candidates().first(where: { FileManager.default.fileExists(atPath: $0) })
    }

    public static func load(configPath: String?, watch: [String] = [], workspace: String? = nil) throws -> CalibdConfiguration {
        guard let path = path(for: configPath) else {
            throw ConfigurationError(file: "(none)", key: "",
                                     message: "no configuration found; pass --config FILE or set CALIBD_CONFIG (looked in \(candidates().joined(separator: ", ")))")
        }
        var configuration = try ConfigurationLoader.load(path: path)
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String {
            URL(fileURLWithPath: p, relativeTo: URL(fileURLWithPath: cwd, isDirectory: true)).standardizedFileURL.path
        }
        if !watch.isEmpty { configuration.watch = watch.map(absolute) }
        if let workspace { configuration.workspace = absolute(workspace) }
        return configuration
    }
}
