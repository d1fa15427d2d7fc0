extension RobustStatistics {
    /// `sigmaClippedStatistics` on caller-owned memory, for hot loops that
    /// must not allocate (one call per arc-line stamp). Same algorithm and
    /// results — NaN values dropped, then median and 1.4826 × MAD, values
    /// beyond `sigma` robust σ of the median removed, until none is or
    /// `iterations` passes are done — but the values are sorted once:
    /// clipping about the median only ever removes the two tails, so the
    /// kept values stay a contiguous run of the sorted values; the median is
    /// then read off, and the MAD is the k-th smallest of two runs of
    /// already-sorted deviations (left and right of the median), merged
    /// for k steps. That replaces two quickselects and a compaction per
    /// pass. The mean and standard deviation are accumulated in sorted
    /// rather than original order, which changes them by rounding only.
    ///
    /// - Parameters:
    ///   - values: `count` values; overwritten (sorted finite values first).
    /// - Returns: mean, median and standard deviation (n − 1) of the kept values and their
    ///   count; NaN statistics when no finite value is given.
    static func sigmaClippedStatistics(_ values: UnsafeMutablePointer<Float>, count: Int, sigma: Double,
                                       iterations: Int) -> (mean: Double, median: Double, sigma: Double, kept: Int) {
        var n = 0
        for i in 0..<count where !values[i].isNaN { values[n] = values[i]; n += 1 }
        var a = UnsafeMutableBufferPointer(start: values, count: n)
        a.sort()
        // As `medianInPlace`: the middle value, or the mean of the two middle values.
        func median(_ lo: Int, _ hi: Int) -> Double {
            let m = hi - lo
            guard m > 0 else { return .nan }
            let upper = Double(a[lo + m / 2])
            return m % 2 == 1 ? upper : (Double(a[lo + m / 2 - 1]) + upper) / 2
        }
        var lo = 0, hi = n
        for _ in 0..<max(iterations, 1) {
            let m = median(lo, hi)
            guard !m.isNaN else { break }
            let mf = Float(m)
            // Deviations |v − m| (in Float, as `madSigma`) ascend leftwards from the first value below m and
            // rightwards from the first value at or above it; merge until the middle one(s).
            let size = hi - lo
            var left = lo, right = hi
            while left < right { let mid = (left + right) / 2; if a[mid] < mf { left = mid + 1 } else { right = mid } }
            var l = left - 1, r = left
            var previous: Float = 0, current: Float = 0
            for _ in 0...(size / 2) {
                previous = current
                if r < hi && (l < lo || a[r] - mf <= mf - a[l]) { current = a[r] - mf; r += 1 } else { current = mf - a[l]; l -= 1 }
            }
            let mad = size % 2 == 1 ? Double(current) : (Double(previous) + Double(current)) / 2
            let s = mad * madToSigma
            guard s > 0, !s.isNaN else { break }
            let before = size
            while lo < hi && abs(Double(a[lo]) - m) > sigma * s { lo += 1 }
            while hi > lo && abs(Double(a[hi - 1]) - m) > sigma * s { hi -= 1 }
            if hi - lo == before { break }
        }
        let (mean, sd) = meanAndStandardDeviation(UnsafeBufferPointer(rebasing: a[lo..<hi]))
        return (mean, median(lo, hi), sd, hi - lo)
    }
}
