import ArgumentParser
import CalibCore
import Foundation
import Pipeline

extension Calibctl {
    /// The monitoring metrics on demand: what calibd writes to `metrics.textfile`.
    struct Metrics: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print (or write) calibd's Prometheus metrics: frames, jobs, products, queue, the last night's verdict.",
            discussion: """
                The text exposition format node-exporter's textfile collector reads. With --out the file is \
                written atomically (temporary file and rename), as calibd does to metrics.textfile.

                Examples:
                  calibctl metrics
                  calibctl metrics --out /var/lib/node-exporter/textfile/calibd.prom
                """)
        @OptionGroup var global: GlobalOptions
        @Option(help: "Write to this .prom file instead of printing.") var out: String?

        func validate() throws {
            if let out, !out.hasSuffix(".prom") {
                throw UserFacingError(.usage, "--out '\(out)': node-exporter's textfile collector reads only *.prom files",
                                      remedy: "e.g. --out /var/lib/node-exporter/textfile/calibd.prom")
            }
        }

        func run() throws {
            let metrics = MetricsTextfile(configuration: try global.loadConfiguration(), database: try global.openDatabase(readOnly: true))
            if let out {
                try metrics.write(to: out)
                print(out)
            } else {
                print(try metrics.render(), terminator: "")
            }
        }
    }
}
