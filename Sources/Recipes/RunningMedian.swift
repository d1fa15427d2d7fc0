/// A running median that ignores NaN: output i is the median of the finite
/// values among inputs i − w/2 … i + w/2 (the window shrinks at the ends);
/// NaN where the window holds no finite value, and NaN where the input itself
/// is NaN, so that flagged pixels stay flagged.
///
/// GSL's `gsl_filter_median` is not used because its result with NaN in the
/// window is undefined, and extracted spectra carry NaN for flagged rows.
public enum RunningMedian {
    public static func filter(_ values: [Float], width: Int) -> [Float] {
        let n = values.count
        let half = max(width, 1) / 2
        var out = [Float](repeating: .nan, count: n)
        var window = [Float]()
        window.reserveCapacity(2 * half + 1)
        for i in 0..<n where values[i].isFinite {
            window.removeAll(keepingCapacity: true)
            for j in max(0, i - half)...min(n - 1, i + half) where values[j].isFinite { window.append(values[j]) }
            out[i] = Float(RobustStatistics.medianInPlace(&window))
        }
        return out
    }
}
