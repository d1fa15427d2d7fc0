import CalibCore
import Foundation
import Glibc

/// How the daemon starts its worker processes: its own executable with the
/// hidden `worker` subcommand and the same configuration (file, `--watch`,
/// `--workspace`), so that a child sees exactly what its parent sees.
///
/// Reading untrusted files and running recipes happen in these children: a
/// Swift runtime trap, a segmentation fault in a C library or the
/// out-of-memory killer then ends one child, which the daemon records
/// against the file or job it was on, instead of ending the daemon.
public struct WorkerLauncher: Sendable {
    /// The `calibd` executable (the daemon passes its own, from /proc/self/exe).
    public var executable: String
    /// `--daemon-config FILE [--daemon-watch DIR]… --daemon-workspace DIR --daemon-log-level L`.
    public var configurationArguments: [String]

    public init(executable: String, configurationArguments: [String]) {
        self.executable = executable; self.configurationArguments = configurationArguments
    }

    /// The launcher for `configuration` as the daemon loaded it; watched roots
    /// and workspace are passed explicitly (absolute), so command-line
    /// overrides reach the child.
    /// - Parameter configPath: the daemon's `--config` (nil: found as the daemon found it).
    public static func forDaemon(configuration: CalibdConfiguration, configPath: String?, logLevel: String) throws -> WorkerLauncher {
        var arguments: [String] = []
        if let source = ConfigurationLocator.path(for: configPath) { arguments += ["--daemon-config", Self.absolute(source)] }
        for root in configuration.watch { arguments += ["--daemon-watch", root] }
        arguments += ["--daemon-workspace", configuration.workspace, "--daemon-log-level", logLevel]
        return WorkerLauncher(executable: try currentExecutable(), configurationArguments: arguments)
    }

    /// This process's executable: /proc/self/exe, which stays right even if the
    /// binary was started through a relative path or a link.
    public static func currentExecutable() throws -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 { return String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
        guard let first = CommandLine.arguments.first, let resolved = FrameIngester.resolved(first) else {
            throw PipelineError.configuration("cannot find calibd's own executable to start worker processes")
        }
        return resolved
    }

    static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    }

    /// Starts `calibd worker <subcommand…>` with this configuration.
    func start(_ subcommand: [String]) throws -> ChildProcess {
        try ChildProcess(executable: executable, arguments: ["worker"] + subcommand + configurationArguments)
    }
}
