import CalibDB
import Foundation

/// Tells the daemon when a night has settled — nothing more can run for it —
/// so that it logs the night's verdict once (and writes its report), rather
/// than after every job. A night that gains work again (a late frame, a rerun)
/// is reported again when it settles again.
///
/// Call `newlySettled(_:)` after each job or ingest batch; it returns the
/// verdicts to log (`NightVerdict.summaryLine`), typically at `notice`, or
/// `warning` when `isComplete` is false.
public struct NightCompletionTracker: Sendable {
    /// Nights reported since they last had work, by their summary line (a changed verdict is reported again).
    private var reported: [String: String] = [:]

    public init() {}

    /// The verdicts of nights that are settled and were not reported with this same verdict.
    /// `nights` limits the check (the nights a batch touched); nil checks every night.
    public mutating func newlySettled(_ builder: NightVerdictBuilder, nights: [String]? = nil, now: Date = Date()) throws -> [NightVerdict] {
        var settled: [NightVerdict] = []
        for night in try nights ?? builder.nights() {
            let verdict = try builder.verdict(night: night, now: now)
            guard verdict.isSettled else { reported[night] = nil; continue }
            guard reported[night] != verdict.summaryLine else { continue }
            reported[night] = verdict.summaryLine
            settled.append(verdict)
        }
        return settled
    }
}
