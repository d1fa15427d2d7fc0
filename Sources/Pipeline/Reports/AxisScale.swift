import Foundation

/// An axis's range and tick marks, chosen so that a person can read the plot:
/// ticks at "nice" numbers (1, 2 or 5 × 10ⁿ, Heckbert's "Nice numbers for
/// graph labels", Graphics Gems I, 1990), labels with just enough decimals to
/// differ from each other, integer ticks on a count axis, and a range made
/// only of finite values.
///
/// NaN and ±inf are ignored. A range of one value (or none) is widened to a
/// readable interval around it, so a constant metric is a flat line in the
/// middle, not a division by zero. A range blown up by a few absurd values
/// (a failed fit's 1e158 among residuals of 0.01 px) is cut to the 1st–99th
/// percentiles when that is over 1000 times narrower; `clipped` says so and
/// the plot pins the outliers to the edge.
public struct AxisScale: Sendable, Equatable {
    public var lower: Double
    public var upper: Double
    public var ticks: [Double]
    public var labels: [String]
    /// Some finite values lie outside `lower...upper` (percentile range).
    public var clipped: Bool

    /// - Parameters:
    ///   - values: the data along the axis (any may be NaN or infinite).
    ///   - including: values the range must include as well (a QC range's bounds), if finite.
    ///   - integer: the quantity is a count: ticks are whole numbers.
    ///   - targetTicks: about how many ticks to show.
    public init(values: [Double], including: [Double] = [], integer: Bool = false, targetTicks: Int = 5) {
        let finite = values.filter(\.isFinite).sorted()
        var clipped = false
        var lo: Double, hi: Double
        if let first = finite.first, let last = finite.last {
            (lo, hi) = (first, last)
            if finite.count >= 20 {
                let p1 = finite[Int(Double(finite.count - 1) * 0.01)], p99 = finite[Int(Double(finite.count - 1) * 0.99)]
                if p99 > p1, (hi - lo) > 1000 * (p99 - p1) { (lo, hi) = (p1, p99); clipped = true }
            }
        } else {
            (lo, hi) = (0, 1)
        }
        for extra in including where extra.isFinite {
            // A QC bound far from the data would flatten it: include it only within three data spans.
            let span = Swift.max(hi - lo, Swift.max(abs(lo), abs(hi)) * 1e-3, 1e-12)
            if extra >= lo - 3 * span && extra <= hi + 3 * span { lo = Swift.min(lo, extra); hi = Swift.max(hi, extra) }
        }
        if hi - lo <= Swift.max(abs(lo), abs(hi)) * 1e-12 {
            let half = integer ? 1 : Swift.max(abs(lo) * 0.05, 0.5)
            (lo, hi) = (lo - half, hi + half)
        }
        var step = Self.nice((hi - lo) / Double(Swift.max(targetTicks - 1, 1)), round: true)
        if integer { step = Swift.max(1, step.rounded()) }
        let first = (lo / step).rounded(.down) * step, last = (hi / step).rounded(.up) * step
        var ticks: [Double] = []
        var k = 0.0
        while first + k * step <= last + step * 1e-9, ticks.count < 50 {
            let t = first + k * step
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            k += 1
        }
        self.lower = first; self.upper = last; self.ticks = ticks; self.clipped = clipped
        self.labels = Self.labels(ticks, step: step, integer: integer)
    }

    /// The nice number near `x`: 1, 2, 5 or 10 × 10ⁿ (rounded, or the next one up).
    static func nice(_ x: Double, round: Bool) -> Double {
        guard x > 0, x.isFinite else { return 1 }
        let exponent = log10(x).rounded(.down)
        let fraction = x / pow(10, exponent)
        let niceFraction: Double = round
            ? (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10)
            : (fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10)
        return niceFraction * pow(10, exponent)
    }

    /// Fixed-point with as many decimals as the step needs (scientific beyond
    /// 1e6 or below 1e-4), more if two labels would otherwise read the same.
    static func labels(_ ticks: [Double], step: Double, integer: Bool) -> [String] {
        if integer { return ticks.map { String(format: "%.0f", $0) } }
        let magnitude = ticks.map(abs).max() ?? 0
        let scientific = magnitude >= 1e6 || step < 1e-4
        var digits = scientific
            ? Swift.max(0, Int(log10(Swift.max(magnitude, step)).rounded(.down) - log10(step).rounded(.down)))
            : Swift.max(0, Int(-log10(step).rounded(.down)))
        while true {
            let format = scientific ? "%.\(digits)e" : "%.\(digits)f"
            let labels = ticks.map { String(format: format, $0 == 0 ? 0 : $0) }
            if Set(labels).count == labels.count || digits >= 12 { return labels }
            digits += 1
        }
    }

    /// Maps a value to a position between `from` (at `lower`) and `to` (at `upper`), clamped to the axis.
    public func position(_ value: Double, from: Double, to: Double) -> Double {
        let t = (Swift.min(Swift.max(value, lower), upper) - lower) / (upper - lower)
        return from + t * (to - from)
    }
}
