extension RobustStatistics {
    /// `sigmaClippedStatistics` on caller-owned memory, for hot loops that
    /// must not allocate (one call per arc-line stamp). Same algorithm and
    /// results — NaN values dropped, then median and 1.4826 × MAD, values
    /// beyond `sigma` robust σ of the median removed, until none is or
    /// `iterations` passes are done — but the values are sorted once (`sortInPlace`):
    /// clipping about the median only ever removes the two tails, so the
    /// kept values stay a contiguous run of the sorted values; the median is
    /// then read off, and the MAD is the k-th smallest of two runs of
    /// already-sorted deviations (left and right of the median), merged
    /// for k steps. That replaces two quickselects and a compaction per
    /// pass. The mean and standard deviation are summed in two passes in
    /// sorted order rather than by Welford's update in the original order,
    /// which changes them by rounding only.
    ///
    /// - Parameters:
    ///   - values: `count` values; overwritten (sorted finite values first).
    ///   - scratch: room for `count` values; overwritten.
    /// - Returns: mean, median and standard deviation (n − 1) of the kept values and their
    ///   count; NaN statistics when no finite value is given.
    static func sigmaClippedStatistics(_ values: UnsafeMutablePointer<Float>, count: Int, scratch: UnsafeMutablePointer<Float>, sigma: Double,
                                       iterations: Int) -> (mean: Double, median: Double, sigma: Double, kept: Int) {
        var n = 0
        for i in 0..<count where !values[i].isNaN { values[n] = values[i]; n += 1 }
        let a = UnsafeMutableBufferPointer(start: values, count: n)
        sortInPlace(values, count: n, scratch: scratch)
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
        // Mean and standard deviation (n − 1) in two passes: no division per value as in Welford's
        // update, and as accurate for a few hundred values.
        let kept = hi - lo
        guard kept > 0 else { return (.nan, .nan, .nan, 0) }
        var sum = 0.0
        for i in lo..<hi { sum += Double(a[i]) }
        let mean = sum / Double(kept)
        var squares = 0.0
        for i in lo..<hi { let d = Double(a[i]) - mean; squares += d * d }
        return (mean, median(lo, hi), kept > 1 ? (squares / Double(kept - 1)).squareRoot() : 0, kept)
    }

    /// Sorts `count` NaN-free values ascending in place, without allocating
    /// beyond `scratch` (room for `count` values): an LSD radix sort on the
    /// IEEE bit patterns mapped to order-preserving unsigned keys (sign bit
    /// set for positives, all bits flipped for negatives), 8 bits per pass,
    /// passes in which every key has the same digit skipped. Why not a
    /// comparison sort: on noise, half of its ~n log₂ n comparisons are
    /// mispredicted branches; the radix passes have none, which makes the
    /// sort of a 625-pixel stamp several times faster.
    static func sortInPlace(_ values: UnsafeMutablePointer<Float>, count: Int, scratch: UnsafeMutablePointer<Float>) {
        guard count > 1 else { return }
        let keys = UnsafeMutableRawPointer(values).assumingMemoryBound(to: UInt32.self)
        let other = UnsafeMutableRawPointer(scratch).assumingMemoryBound(to: UInt32.self)
        for i in 0..<count {
            let b = values[i].bitPattern
            keys[i] = b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
        }
        var source = keys, destination = other
        withUnsafeTemporaryAllocation(of: Int.self, capacity: 256) { histogram in
            for shift in stride(from: 0, to: 32, by: 8) {
                for d in 0..<256 { histogram[d] = 0 }
                for i in 0..<count { histogram[Int((source[i] >> UInt32(shift)) & 0xFF)] += 1 }
                if histogram[Int((source[0] >> UInt32(shift)) & 0xFF)] == count { continue }
                var total = 0
                for d in 0..<256 { let c = histogram[d]; histogram[d] = total; total += c }
                for i in 0..<count {
                    let k = source[i], d = Int((k >> UInt32(shift)) & 0xFF)
                    destination[histogram[d]] = k; histogram[d] += 1
                }
                swap(&source, &destination)
            }
        }
        for i in 0..<count {
            let k = source[i]
            values[i] = Float(bitPattern: k & 0x8000_0000 != 0 ? k & 0x7FFF_FFFF : ~k)
        }
    }
}
