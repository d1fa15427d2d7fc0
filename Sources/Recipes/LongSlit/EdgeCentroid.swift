import CalibCore
import Foundation

/// Sub-pixel positions of slit edges and line centres by first moments.
///
/// An edge of a slit lit by a continuum is a top-hat's step blurred by the PSF and the pixel;
/// the differences of neighbouring pixels sample that blur's (symmetric) kernel, so their first
/// moment is the edge: exact up to aliasing terms of order exp(−2π²σ²) — 10⁻⁷ px for σ ≥ 0.8 px
/// (Poisson summation) — unlike a linear interpolation of the half-level crossing (≤ 0.03 px).
/// The window is re-centred on the moment until it settles, so that it is symmetric about the
/// edge and truncates the kernel's wings evenly. NaN pixels make the position nil.
public enum EdgeCentroid {
    /// Position (px, pixel centres at integers) of the edge near `guess` in `profile`:
    /// rising (dark → lit) when `rising`, else falling. `window` differences each side.
    /// Nil when the step within the window is not at least `minimumStep` (a slit not there).
    public static func edge(in profile: [Double], near guess: Double, rising: Bool, window: Int, minimumStep: Double) -> Double? {
        var centre = guess
        for _ in 0..<6 {
            let middle = Int((centre - 0.5).rounded())   // difference i sits at i + 0.5
            let lo = middle - window, hi = middle + window
            guard lo >= 0, hi + 1 < profile.count else { return nil }
            var sum = 0.0, moment = 0.0
            for i in lo...hi {
                let g = (profile[i + 1] - profile[i]) * (rising ? 1 : -1)
                sum += g; moment += g * (Double(i) + 0.5)
            }
            guard sum.isFinite, sum >= minimumStep else { return nil }
            let next = moment / sum
            if abs(next - centre) < 1e-6 { return next }
            centre = next
        }
        return centre
    }

    /// Background-subtracted first moment of `profile` within ±`window` of `guess`, re-centred
    /// until it settles; the background is the median of the `window + 1 … window + 3`
    /// samples each side. Nil when the window leaves the profile or holds no positive light.
    public static func peak(in profile: [Double], near guess: Double, window: Int) -> Double? {
        var centre = guess
        for _ in 0..<6 {
            let middle = Int(centre.rounded())
            guard middle - window - 3 >= 0, middle + window + 3 < profile.count else { return nil }
            var border = (1...3).flatMap { [profile[middle - window - $0], profile[middle + window + $0]] }
            border.sort()
            let background = (border[2] + border[3]) / 2
            var sum = 0.0, moment = 0.0
            for i in (middle - window)...(middle + window) {
                let v = profile[i] - background
                sum += v; moment += v * Double(i)
            }
            guard sum.isFinite, sum > 0 else { return nil }
            let next = moment / sum
            if abs(next - centre) < 1e-6 { return next }
            centre = next
        }
        return centre
    }

    /// Row y of `image` averaged over rows `y − halfRows … y + halfRows` (clamped), as Double.
    public static func rowProfile(_ image: Image, row y: Int, halfRows: Int) -> [Double] {
        let lo = max(0, y - halfRows), hi = min(image.height - 1, y + halfRows)
        var out = [Double](repeating: 0, count: image.width)
        guard lo <= hi else { return out }
        for r in lo...hi { for x in 0..<image.width { out[x] += Double(image[x, r]) } }
        let n = Double(hi - lo + 1)
        return out.map { $0 / n }
    }

    /// Column x of `image` as Double.
    public static func column(_ image: Image, x: Int) -> [Double] {
        (0..<image.height).map { Double(image[x, $0]) }
    }
}
