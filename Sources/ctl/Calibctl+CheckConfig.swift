import ArgumentParser
import CalibCore
import Foundation
import Pipeline

extension Calibctl {
    /// The same check as `calibd --check-config`, for a person at the control host.
    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "check-config",
            abstract: "Check the configuration and every instrument profile; print every finding.",
            discussion: """
                Unknown keys at any depth (with the nearest valid name), values the loader refuses, recipes without \
                an implementation, parameters a recipe does not read, QC ranges on metrics a recipe does not emit, \
                and missing static files. Exit status 78 (EX_CONFIG) on any finding, 0 when clean.
                Example: calibctl check-config --config /etc/calibd/calibd.yaml
                """)
        @Option(help: "Configuration file (default: $CALIBD_CONFIG, ./config/calibd.yaml, /etc/calibd/calibd.yaml).")
        var config: String?

        func run() throws {
            let report = ConfigurationChecker.report(configPath: config)
            for line in report.lines { print(line) }
            if !report.clean { throw ExitCode(ExitStatus.config.rawValue) }
        }
    }
}
