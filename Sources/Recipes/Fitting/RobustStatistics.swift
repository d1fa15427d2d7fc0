import CalibCore
import Dispatch

/// Robust statistics used throughout the recipes.
///
/// NaN values are ignored everywhere (they mark bad or missing pixels); an
/// empty input gives NaN.
public enum RobustStatistics {
    /// 1/Φ⁻¹(3/4): scales a median absolute deviation to a Gaussian σ.
    public static let madToSigma: Double = 1.482_602_218_505_602

    /// Median of the finite values; sorts a copy.
    public static func median(_ values: some Collection<Float>) -> Double {
        var v = values.filter { !$0.isNaN }
        return medianInPlace(&v)
    }

    /// Median of `values`, reordering them (quickselect, O(n)).
    public static func medianInPlace(_ values: inout [Float]) -> Double {
        values.withUnsafeMutableBufferPointer { medianInPlace($0) }
    }

    /// The `percent`-th percentile of `values` (nearest rank, NaN-free input
    /// expected), reordering them; NaN when empty.
    public static func percentileInPlace(_ values: inout [Float], _ percent: Double) -> Double {
        let n = values.count
        guard n > 0 else { return .nan }
        let k = min(n - 1, max(0, Int((percent / 100 * Double(n - 1)).rounded())))
        return values.withUnsafeMutableBufferPointer { Double(select($0, k)) }
    }

    /// Robust σ: 1.4826 × median absolute deviation from the median.
    public static func madSigma(_ values: [Float]) -> (median: Double, sigma: Double) {
        // Reserved at full size: `filter` grows its result by doubling, which held 1.5 copies
        // of a whole master bias at once.
        var v = [Float]()
        v.reserveCapacity(values.count)
        for value in values where !value.isNaN { v.append(value) }
        let m = medianInPlace(&v)
        for i in v.indices { v[i] = abs(v[i] - Float(m)) }
        return (m, medianInPlace(&v) * madToSigma)
    }

    /// `madSigma` of values already free of NaN, reordering and overwriting them (no copy).
    public static func madSigmaInPlace(_ v: inout [Float]) -> (median: Double, sigma: Double) {
        let m = medianInPlace(&v)
        for i in v.indices { v[i] = abs(v[i] - Float(m)) }
        return (m, medianInPlace(&v) * madToSigma)
    }

    /// Mean and standard deviation (n − 1) of the finite values.
    public static func meanAndStandardDeviation(_ values: some Collection<Float>) -> (mean: Double, sd: Double) {
        var n = 0.0, mean = 0.0, m2 = 0.0
        for value in values where !value.isNaN {
            // Welford's update: stable for large counts of similar values.
            n += 1
            let delta = Double(value) - mean
            mean += delta / n
            m2 += delta * (Double(value) - mean)
        }
        guard n > 0 else { return (.nan, .nan) }
        return (mean, n > 1 ? (m2 / (n - 1)).squareRoot() : 0)
    }

    /// Iterative σ-clipped mean about the median: values further than
    /// `sigma` robust σ from the median are rejected until none is, or
    /// `iterations` passes are done. Returns the mean, σ and kept count.
    public static func sigmaClippedStatistics(_ values: [Float], sigma: Double, iterations: Int) -> (mean: Double, median: Double, sigma: Double, kept: Int) {
        var kept = values.filter { !$0.isNaN }
        for _ in 0..<max(iterations, 1) {
            let (m, s) = madSigma(kept)
            guard s > 0, !s.isNaN else { break }
            let before = kept.count
            kept.removeAll { abs(Double($0) - m) > sigma * s }
            if kept.count == before { break }
        }
        let (mean, sd) = meanAndStandardDeviation(kept)
        return (mean, median(kept), sd, kept.count)
    }

    /// Standard deviation after iterative clipping at `sigma` σ about the median.
    ///
    /// Unlike the MAD, it is not quantised when the data are integers (raw
    /// ADU): the MAD of integer differences is itself an integer or a half,
    /// which biases a read-noise estimate of 2–3 ADU by up to 20 %. Clipping
    /// at 5σ removes cosmic rays and hot pixels while losing only 6×10⁻⁵ of a
    /// Gaussian's variance.
    public static func clippedStandardDeviation(_ values: [Float], sigma: Double = 5, iterations: Int = 5) -> Double {
        var (centre, spread) = madSigma(values)
        if spread == 0 || spread.isNaN { spread = meanAndStandardDeviation(values).sd }
        for _ in 0..<iterations {
            let (mean, sd) = values.withUnsafeBufferPointer { momentsWithin(sigma * spread, of: centre, $0) }
            if abs(sd - spread) <= 1e-6 * spread { break }
            centre = mean
            spread = sd
        }
        return spread
    }

    /// Mean and standard deviation (n − 1) of the finite values within `limit`
    /// of `centre`, without copying them: two passes in Double (sum, then the
    /// sum of squared deviations from the mean), which is as accurate as
    /// Welford's update for these counts and has no division per value. The
    /// order of summation is fixed, so the result is reproducible. NaN when
    /// none is within the limit.
    static func momentsWithin(_ limit: Double, of centre: Double, _ values: UnsafeBufferPointer<Float>) -> (mean: Double, sd: Double) {
        var n = 0, sum = 0.0
        for v in values where abs(Double(v) - centre) <= limit { sum += Double(v); n += 1 }
        guard n > 0 else { return (.nan, .nan) }
        let mean = sum / Double(n)
        var squares = 0.0
        for v in values where abs(Double(v) - centre) <= limit { let d = Double(v) - mean; squares += d * d }
        return (mean, n > 1 ? (squares / Double(n - 1)).squareRoot() : 0)
    }

    /// Median of every column of an image (NaN ignored), in parallel.
    ///
    /// Columns are gathered 32 at a time row by row, so memory is read in
    /// contiguous runs rather than one stride of a whole row per value.
    public static func columnMedians(_ image: Image) -> [Float] {
        let width = image.width, height = image.height, block = 32
        var out = [Float](repeating: .nan, count: width)
        let blocks = (width + block - 1) / block
        image.pixels.withUnsafeBufferPointer { pixels in
            out.withUnsafeMutableBufferPointer { buffer in
                nonisolated(unsafe) let results = buffer
                nonisolated(unsafe) let source = pixels
                RecipeParallelism.concurrentPerform(iterations: blocks) { b in
                    let x0 = b * block, columns = min(block, width - x0)
                    // Columns lie `pitch` apart: a power-of-two pitch (4096 rows) would put all 32
                    // of them in the same cache set, and the transpose would miss on every write.
                    let pitch = height + 16
                    let gathered = UnsafeMutableBufferPointer<Float>.allocate(capacity: columns * pitch)
                    let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: columns)
                    counts.initialize(repeating: 0)
                    defer { gathered.deallocate(); counts.deallocate() }
                    // Without NaN in the block (the usual case) every column keeps every row: a plain transpose.
                    var complete = true
                    for y in 0..<height {
                        let row = source.baseAddress! + y * width + x0
                        var missing = false
                        for c in 0..<columns { missing = missing || row[c].isNaN }
                        if missing { complete = false; break }
                    }
                    if complete {
                        for y in 0..<height {
                            let row = source.baseAddress! + y * width + x0
                            for c in 0..<columns { gathered[c * pitch + y] = row[c] }
                        }
                        for c in 0..<columns { counts[c] = height }
                    } else {
                        for y in 0..<height {
                            let row = y * width + x0
                            for c in 0..<columns {
                                let v = source[row + c]
                                if !v.isNaN { gathered[c * pitch + counts[c]] = v; counts[c] += 1 }
                            }
                        }
                    }
                    for c in 0..<columns {
                        results[x0 + c] = Float(medianInPlace(UnsafeMutableBufferPointer(rebasing: gathered[(c * pitch)..<(c * pitch + counts[c])])))
                    }
                }
            }
        }
        return out
    }

    /// Median of every row of an image (NaN ignored), in parallel.
    public static func rowMedians(_ image: Image) -> [Float] {
        let width = image.width, height = image.height
        var out = [Float](repeating: .nan, count: height)
        image.pixels.withUnsafeBufferPointer { pixels in
            out.withUnsafeMutableBufferPointer { buffer in
                nonisolated(unsafe) let results = buffer
                nonisolated(unsafe) let source = pixels
                let chunks = max(1, min(64, height / 16))
                RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                    let line = UnsafeMutableBufferPointer<Float>.allocate(capacity: width)
                    defer { line.deallocate() }
                    for y in stride(from: chunk, to: height, by: chunks) {
                        var n = 0
                        for x in 0..<width { let v = source[y * width + x]; if !v.isNaN { line[n] = v; n += 1 } }
                        results[y] = Float(medianInPlace(UnsafeMutableBufferPointer(rebasing: line[0..<n])))
                    }
                }
            }
        }
        return out
    }

    /// Median of a buffer's values (no NaN), reordering them.
    public static func medianInPlace(_ buffer: UnsafeMutableBufferPointer<Float>) -> Double {
        let n = buffer.count
        guard n > 0 else { return .nan }
        let upper = Double(select(buffer, n / 2))
        if n % 2 == 1 { return upper }
        // After selection the lower middle is the largest element left of n/2.
        var lower = buffer[0]
        for i in 1..<(n / 2) where buffer[i] > lower { lower = buffer[i] }
        return (Double(lower) + upper) / 2
    }

    /// Quickselect: puts the k-th smallest value at index k, every value
    /// before it ≤ it and every value after it ≥ it. NaN values are not
    /// expected (callers filter them); if present they end up after the
    /// others and the result is undefined, but the selection still ends.
    ///
    /// Partitions are branch-free (Lomuto's scheme with a conditional
    /// increment): on noise-like data a comparison branch is mispredicted half
    /// the time, which made selection cost ~12 ns per value. Values equal to
    /// the pivot are split off in a second pass, so inputs with many equal
    /// values (means of integer ADU) converge at once instead of degrading.
    /// Expected cost O(n); after 100 rounds (never seen but on adversarial
    /// input) the rest is sorted, so the worst case is O(n log n).
    @inlinable
    static func select(_ a: UnsafeMutableBufferPointer<Float>, _ k: Int) -> Float {
        precondition(k >= 0 && k < a.count)
        var lo = 0, hi = a.count
        // Pivot: median of three pseudo-random positions (a fixed sequence, so runs
        // repeat exactly). Fixed positions such as first/middle/last pick an
        // extreme on sorted or single-peaked data (a filtered blaze) and the
        // selection turns quadratic.
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func position() -> Int {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return lo + Int(state % UInt64(hi - lo))
        }
        var rounds = 0
        while hi - lo > 16 {
            rounds += 1
            if rounds > 100 {
                // Pathological input even for random pivots: finish by sorting what is left.
                var rest = UnsafeMutableBufferPointer(rebasing: a[lo..<hi])
                rest.sort()
                return a[k]
            }
            let x = a[position()], y = a[position()], z = a[position()]
            var pivot = max(min(x, y), min(max(x, y), z))
            if pivot.isNaN {
                // NaN compares false both ways and would never split off; any other value will.
                guard let i = (lo..<hi).first(where: { !a[$0].isNaN }) else { return a[k] }
                pivot = a[i]
            }
            var less = lo
            for i in lo..<hi {
                let v = a[i]
                a[i] = a[less]
                a[less] = v
                less += v < pivot ? 1 : 0
            }
            if k < less { hi = less; continue }
            var equal = less
            for i in less..<hi {
                let v = a[i]
                a[i] = a[equal]
                a[equal] = v
                equal += v <= pivot ? 1 : 0
            }
            if k < equal { return pivot }
            lo = equal
        }
        // Insertion sort of the last few.
        if hi - lo > 1 {
            for i in (lo + 1)..<hi {
                let v = a[i]
                var j = i - 1
                while j >= lo && a[j] > v { a[j + 1] = a[j]; j -= 1 }
                a[j + 1] = v
            }
        }
        return a[k]
    }
}
