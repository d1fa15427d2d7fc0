import Foundation
import Pipeline

/// `calibctl status`'s night part: the latest night (or `--night`) in full,
/// or with `--short` one line per night and only what did not pass.
struct NightStatus {
    var builder: NightVerdictBuilder
    /// Nights `--short` lists without `--night`: the most recent ones (an archive has thousands).
    var shortNights = 14

    func render(night: String?, short: Bool) throws -> [String] {
        var lines: [String] = []
        var nights: [String]
        if let night {
            nights = [night]
        } else if short {
            nights = try builder.nights()
            if nights.count > shortNights {
                lines.append("(\(nights.count - shortNights) earlier nights not shown: calibctl status --short --night N)")
                nights = Array(nights.suffix(shortNights))
            }
        } else {
            nights = try builder.latestNight().map { [$0] } ?? []
        }
        guard !nights.isEmpty else { return ["no night recorded yet"] }
        for night in nights {
            let verdict = try builder.verdict(night: night)
            lines.append(verdict.summaryLine)
            if short {
                lines += verdict.problemLines()
            } else {
                lines.append("  \(verdict.frameCount) usable frames, \(verdict.unusableFiles.count) unusable; \(verdict.madeLine)")
                lines += verdict.fullLines()
                lines.append("  (metrics: calibctl qc show PRODUCT; every night in one line each: calibctl status --short)")
            }
        }
        return lines
    }
}
