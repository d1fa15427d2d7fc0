import ArgumentParser
import CalibCore
import Foundation

extension Calibctl {
    /// Used by scripts/install.sh; hidden because it is a build step, not an operator's verb.
    struct GenerateManpages: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "generate-manpages",
            abstract: "Write man pages (one per command and verb) for calibctl or another calibd binary.",
            discussion: "Example: calibctl generate-manpages share/man/man1 --tool .build/release/calibd",
            shouldDisplay: false)
        @Argument(help: "Directory to write the pages into (created if missing).") var directory: String
        @Option(help: "The binary to document (default: this calibctl).") var tool: String?

        func run() throws {
            let executable = tool ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
            let process = Process()
            process.executableURL = URL(fileURLWithPath: executable)
            process.arguments = ["--experimental-dump-help"]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            let data = pipe.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            guard process.terminationStatus == 0,
                  let info = try? JSONDecoder().decode(ManualPageWriter.ToolInfo.self, from: data) else {
                throw UserFacingError(.dataError, "\(executable) did not describe its command line (--experimental-dump-help)",
                                      remedy: "give --tool a calibd, calibctl or calib-bench binary of this version")
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
