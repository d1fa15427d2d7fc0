import Foundation

/// Which flats of a set may be combined: a frame with more than `maxSaturatedFraction` of its
/// light-sensitive pixels at the detector's saturation level is left out (its level, and its
/// slit profile, are clipped), with the reason in words. The frames kept are scaled to their
/// common median level, so that flats of different exposure times combine (PypeIt combines
/// ISIS's 1.5, 2 and 4 s flats the same way).
public struct FlatFrameScreen: Sendable {
    public var maxSaturatedFraction: Double
    public var normalise: Bool

    public init(maxSaturatedFraction: Double, normalise: Bool) {
        self.maxSaturatedFraction = maxSaturatedFraction; self.normalise = normalise
    }

    public struct Verdict: Sendable, Equatable {
        /// Indices of the frames kept, in input order.
        public var accepted: [Int]
        /// Frames left out, with the reason.
        public var rejected: [(index: Int, reason: String)]
        /// Multiplier per accepted frame (1 without normalisation).
        public var scales: [Float]

        public static func == (a: Verdict, b: Verdict) -> Bool {
            a.accepted == b.accepted && a.scales == b.scales && a.rejected.map(\.index) == b.rejected.map(\.index)
                && a.rejected.map(\.reason) == b.rejected.map(\.reason)
        }
    }

    /// - Parameters:
    ///   - saturatedFractions: per frame, the fraction of light-sensitive pixels at saturation.
    ///   - levels: per frame, the median bias-subtracted level, ADU.
    public func judge(saturatedFractions: [Double], levels: [Double]) -> Verdict {
        precondition(saturatedFractions.count == levels.count)
        var accepted: [Int] = [], rejected: [(Int, String)] = []
        for (i, fraction) in saturatedFractions.enumerated() {
            if fraction > maxSaturatedFraction {
                rejected.append((i, String(format: "%.2f%% of its pixels are saturated (at most %.2f%% allowed)",
                                           100 * fraction, 100 * maxSaturatedFraction)))
            } else if !(levels[i] > 0) {
                rejected.append((i, "its median level (\(levels[i]) ADU) is not above the bias"))
            } else {
                accepted.append(i)
            }
        }
        var scales = [Float](repeating: 1, count: accepted.count)
        if normalise, !accepted.isEmpty {
            let kept = accepted.map { levels[$0] }.sorted()
            let reference = kept.count % 2 == 1 ? kept[kept.count / 2] : (kept[kept.count / 2 - 1] + kept[kept.count / 2]) / 2
            scales = accepted.map { Float(reference / levels[$0]) }
        }
        return Verdict(accepted: accepted, rejected: rejected, scales: scales)
    }
}
