import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Pipeline

extension Calibctl {
    /// The morning question in one command: are the night's calibrations all
    /// there and good, and if not, what is missing and why.
    struct Night: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A night's verdict: every expected product, made and QC-passed or why not.",
            discussion: """
                What the instrument profile's recipes should make for the setups of the night's frames, and \
                for each: passed, QC-failed (the metric, its value and range), failed (the job's error), \
                waiting (for what) or missing (which frames or calibrations are lacking); then the night's \
                unusable files. Exit status 0 when the night is complete and everything passed, 1 otherwise.

                Examples:
                  calibctl night 2026-11-21
                  calibctl night --json          (the latest night)
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Argument(help: "Observing night YYYY-MM-DD (default: the latest night with anything recorded).") var night: String?

        func validate() throws { _ = try InputValidator.night(ifGiven: night, option: "NIGHT") }

        func run() throws {
            let builder = NightVerdictBuilder(configuration: try global.loadConfiguration(), database: try global.openDatabase(readOnly: true))
            guard let chosen = try InputValidator.night(ifGiven: night, option: "NIGHT")?.description ?? builder.latestNight() else {
                throw UserFacingError(.noInput, "nothing is recorded yet, so there is no night to judge",
                                      remedy: "run calibd on a raw-data directory first")
            }
            let verdict = try builder.verdict(night: chosen)
            if output.json {
                try printJSON(NightVerdictJSON(verdict))
            } else {
                print(verdict.summaryLine)
                print("  \(verdict.frameCount) usable frames, \(verdict.unusableFiles.count) unusable; \(verdict.madeLine)")
                for line in verdict.fullLines() { print(line) }
            }
            if !verdict.isComplete { throw ExitCode(ExitStatus.finding.rawValue) }
        }
    }
}

/// `calibctl night --json`: the verdict with its summary line and flags spelt out.
struct NightVerdictJSON: Encodable {
    var night: String
    var complete: Bool
    var settled: Bool
    var summary: String
    var frameCount: Int
    var items: [NightVerdict.ExpectedProduct]
    var unusableFiles: [NightVerdict.UnusableFile]

    init(_ verdict: NightVerdict) {
        night = verdict.night; complete = verdict.isComplete; settled = verdict.isSettled; summary = verdict.summaryLine
        frameCount = verdict.frameCount; items = verdict.items; unusableFiles = verdict.unusableFiles
    }
}
