import ArgumentParser
import Foundation
import Pipeline

extension Calibctl {
    /// Regenerates the shipped static files from SOXSPIPE's tables; hidden
    /// because it is a maintainer's build step, not an operator's verb.
    struct ConvertStatic: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "convert-static",
            abstract: "Convert SOXSPIPE's static calibrations into calibd's pinhole maps and nominal dispersion models.",
            discussion: """
                Reads the manifest (config/static/sources/soxspipe-conversions.json) and the vendored tables beside it, \
                writes <INSTRUMENT>_<ARM>[_<BX>x<BY>]_pinhole_map.csv and _nominal_dispersion.json into --out \
                (default: the manifest's parent directory). With --check, writes nothing and exits 1 when a shipped \
                file differs from what the tables give.

                Example:
                  calibctl convert-static --manifest config/static/sources/soxspipe-conversions.json
                """,
            shouldDisplay: false)

        @Option(help: "The conversion manifest.") var manifest: String = "config/static/sources/soxspipe-conversions.json"
        @Option(help: "Directory for the converted files (default: the manifest's parent directory).") var out: String?
        @Flag(help: "Compare with the files in --out instead of writing.") var check = false

        func run() throws {
            let converter = try SoxspipeStaticConverter(manifestPath: manifest)
            let result = try converter.convert()
            let directory = out ?? ((manifest as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
            var differing: [String] = []
            for output in result.outputs {
                let path = (directory as NSString).appendingPathComponent(output.fileName)
                if check {
                    if (try? String(contentsOfFile: path, encoding: .utf8)) != output.text { differing.append(path) }
                } else {
                    try output.text.write(toFile: path, atomically: true, encoding: .utf8)
                }
            }
            for s in result.summaries {
                print("\(s.name): \(s.matchedOnTableScale)/\(s.singleWavelengths) single-pinhole wavelengths matched on the tables' scale "
                      + "(\(s.matchedAsGiven) as given); \(s.mapEntries) of \(s.tableRows) rows kept; "
                      + (s.worstFitX.isNaN ? "no nominal model"
                         : String(format: "nominal fit worst |dx| %.4f px, |dy| %.4f px", s.worstFitX, s.worstFitY)))
            }
            if check, !differing.isEmpty {
                FileHandle.standardError.write(Data("calibctl: differs from the tables: \(differing.joined(separator: ", "))\n".utf8))
                throw ExitCode(1)
            }
        }
    }
}
