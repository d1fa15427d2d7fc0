import ArgumentParser
import CalibCore
import Foundation

extension Calibctl {
    /// Used by scripts/install.sh; hidden because it is a build step, not an operator's verb.
    /// It reads the dump rather than running the binary: calibctl starts no processes (SecurityTests).
    struct GenerateManpages: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-manpages",
            abstract: "Write man pages (one per command and verb) from a calibd binary's --experimental-dump-help.",
            discussion: "Example: calibd --experimental-dump-help | calibctl generate-manpages share/man/man1 --dump -",
            shouldDisplay: false)
        @Argument(help: "Directory to write the pages into (created if missing).") var directory: String
        @Option(help: "The JSON that BINARY --experimental-dump-help printed: a file, or - for standard input.") var dump: String

        func run() throws {
            let data = dump == "-" ? FileHandle.standardInput.readDataToEndOfFile()
                : try Data(contentsOf: URL(fileURLWithPath: dump))
            guard let info = try? JSONDecoder().decode(ManualPageWriter.ToolInfo.self, from: data) else {
                throw UserFacingError(.dataError, "\(dump == "-" ? "standard input" : dump) is not a command-line description",
                                      remedy: "give the output of calibd --experimental-dump-help or calibctl --experimental-dump-help")
            }
            let date = ProcessInfo.processInfo.environment["SOURCE_DATE_EPOCH"].flatMap(Double.init)
                .map { Date(timeIntervalSince1970: $0) } ?? Date()
            let formatter = DateFormatter()
            formatter.dateFormat = "yyyy-MM-dd"
            formatter.timeZone = TimeZone(identifier: "UTC")
            let writer = ManualPageWriter(version: CalibdVersion.current, date: formatter.string(from: date),
                                          exitStatuses: ExitStatus.allCases.map { ($0.rawValue, $0.meaning) })
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for page in writer.pages(info) {
                try page.text.write(toFile: (directory as NSString).appendingPathComponent(page.name), atomically: true, encoding: .utf8)
                print(page.name)
            }
        }
    }
}
