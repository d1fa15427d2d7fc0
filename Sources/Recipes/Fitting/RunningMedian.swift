/// A running median that ignores NaN: output i is the median of the finite
/// values among inputs i − w/2 … i + w/2 (the window shrinks at the ends);
/// NaN where the window holds no finite value, and NaN where the input itself
/// is NaN, so that flagged pixels stay flagged. An even count of finite values
/// gives the mean of the two middle ones (in Double, then rounded to Float),
/// as `RobustStatistics.medianInPlace` does.
///
/// GSL's `gsl_filter_median` is not used because its result with NaN in the
/// window is undefined, and extracted spectra carry NaN for flagged rows.
///
/// The window is kept sorted as it slides: each step removes the value that
/// leaves and inserts the one that enters (binary search, then a shift of
/// the values beyond it), and the median is read off the middle. That is
/// O(log w) comparisons and at most w moved floats per pixel — for the
/// blaze's w = 25 a shift of a few floats, cheaper than the bookkeeping of a
/// two-heap or skip-list structure — instead of a selection over the whole
/// window at every pixel.
public enum RunningMedian {
    public static func filter(_ values: [Float], width: Int) -> [Float] {
        let n = values.count
        let half = max(width, 1) / 2
        var out = [Float](repeating: .nan, count: n)
        guard n > 0 else { return out }
        let window = UnsafeMutablePointer<Float>.allocate(capacity: 2 * half + 1)
        defer { window.deallocate() }
        var count = 0

        /// First index whose value is ≥ v (or > v with `after`).
        func position(of v: Float, after: Bool) -> Int {
            var lo = 0, hi = count
            while lo < hi {
                let mid = (lo + hi) / 2
                if window[mid] < v || (after && window[mid] == v) { lo = mid + 1 } else { hi = mid }
            }
            return lo
        }
        func insert(_ v: Float) {
            let at = position(of: v, after: true)
            (window + at + 1).update(from: window + at, count: count - at)
            window[at] = v
            count += 1
        }
        func remove(_ v: Float) {
            let at = position(of: v, after: false)
            (window + at).update(from: window + at + 1, count: count - at - 1)
            count -= 1
        }

        values.withUnsafeBufferPointer { input in
            for j in 0..<min(n, half + 1) where input[j].isFinite { insert(input[j]) }
            for i in 0..<n {
                if i > 0 {
                    let leaving = i - half - 1, entering = i + half
                    if leaving >= 0 && input[leaving].isFinite { remove(input[leaving]) }
                    if entering < n && input[entering].isFinite { insert(input[entering]) }
                }
                guard input[i].isFinite, count > 0 else { continue }
                out[i] = count % 2 == 1 ? window[count / 2]
                    : Float((Double(window[count / 2 - 1]) + Double(window[count / 2])) / 2)
            }
        }
        return out
    }
}
