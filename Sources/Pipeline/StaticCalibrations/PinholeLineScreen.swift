import CalibCore
import Foundation

/// Finds each pinhole-table line in a lamp line list and judges whether its
/// lamp neighbours would pull its measured centre.
///
/// Both wavelength sets must be on one scale (see `WavelengthScale`): the
/// list is converted to the table's scale before matching. A table line is
/// the list's nearest line within `matchToleranceNm`; its intensity is that
/// line's. Blends: the lamp's neighbours k at Δλₖ with intensity ratio rₖ
/// move the centroid of the summed Gaussian profiles (σ = PSF σ in nm) by
/// δ ≈ Σ rₖ gₖ Δλₖ / (1 + Σ rₖ gₖ), gₖ = exp(−Δλₖ² / 2σ²) — the first-order
/// shift of an intensity-weighted centroid, adequate for the small pulls it
/// screens (≤ 0.05 σ); neighbours beyond 5σ are ignored. The pull is |δ|/σ.
struct PinholeLineScreen {
    struct Judgement: Equatable {
        /// nil when no list line lies within the tolerance.
        var intensity: Double?
        /// Centroid pull in PSF σ (0 for an isolated line).
        var pull: Double
    }

    /// Line-list wavelengths on the table's scale (nm), ascending, with their intensities.
    let wavelengths: [Double]
    let intensities: [Double]
    let matchToleranceNm: Double

    init(wavelengthsNm: [Double], intensities: [Double], listScale: WavelengthScale, tableScale: WavelengthScale,
         matchToleranceNm: Double) {
        let converted = zip(wavelengthsNm, intensities).map { (listScale.convert($0.0, to: tableScale), $0.1) }
            .filter { $0.0.isFinite }.sorted { $0.0 < $1.0 }
        self.wavelengths = converted.map(\.0)
        self.intensities = converted.map(\.1)
        self.matchToleranceNm = matchToleranceNm
    }

    /// Index of the first list line ≥ `nm`.
    private func lowerBound(_ nm: Double) -> Int {
        var low = 0, high = wavelengths.count
        while low < high {
            let mid = (low + high) / 2
            if wavelengths[mid] < nm { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The nearest list line within the tolerance, if any.
    func match(_ nm: Double) -> Int? {
        let i = lowerBound(nm)
        let candidates = [i - 1, i].filter { wavelengths.indices.contains($0) }
        guard let best = candidates.min(by: { abs(wavelengths[$0] - nm) < abs(wavelengths[$1] - nm) }),
              abs(wavelengths[best] - nm) <= matchToleranceNm else { return nil }
        return best
    }

    /// The line at `nm` seen with a PSF of σ `sigmaNm` (nm).
    func judge(_ nm: Double, sigmaNm: Double) -> Judgement {
        guard let index = match(nm) else { return Judgement(intensity: nil, pull: .nan) }
        let own = intensities[index]
        guard own > 0, sigmaNm > 0 else { return Judgement(intensity: own, pull: .infinity) }
        var weighted = 0.0, weights = 0.0
        var k = lowerBound(wavelengths[index] - 5 * sigmaNm)
        while k < wavelengths.count, wavelengths[k] <= wavelengths[index] + 5 * sigmaNm {
            if k != index {
                let d = wavelengths[k] - wavelengths[index]
                let w = intensities[k] / own * exp(-d * d / (2 * sigmaNm * sigmaNm))
                weighted += w * d
                weights += w
            }
            k += 1
        }
        return Judgement(intensity: own, pull: abs(weighted / (1 + weights)) / sigmaNm)
    }
}
