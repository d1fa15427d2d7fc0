import Dispatch
import CalibCore

/// The per-pixel σ-clipped mean of `SigmaClippedStack`, over one strip of
/// frames laid out frame after frame.
///
/// The rejection rule is the stack's (median centre, MAD σ never below the
/// noise floor, `sigma`·σ cut, repeated); this type only makes it cheap:
///
/// - Fast path: the spread is never below the floor, and no value is further
///   from the median than the range (max − min); when the range is within
///   `sigma` × floor nothing can be rejected and the mean is the answer.
///   Failing that (or with no floor at all), the first clipping iteration is
///   run in SIMD lanes; where it rejects nothing the mean is again the answer.
/// - Otherwise the values are sorted once (a sorting network for 3–5 frames,
///   insertion sort beyond). Every kept set is then a contiguous run of the
///   sorted values — |v − centre| ≤ limit holds on an interval of v, also in
///   floating point, since v − centre rounds monotonically — so each
///   iteration's median is an index, and its MAD is found by merging the two
///   monotone runs of deviations below and above the centre: no re-sorting.
/// - The mean of the kept values is summed in frame order, as a plain filter
///   would, so the result is bit-for-bit that of sorting afresh each time.
struct PixelClipping: Sendable {
    let frames: Int
    let scale: [Float]
    /// True when every scale is 1, so values are used as read.
    let unitScale: Bool
    let sigma: Float
    let iterations: Int
    /// Read noise (same units as the scaled values); 0 for none.
    let noiseFloor: Float
    /// e⁻ per unit of the scaled values, for the Poisson part of the floor; 0 for none.
    let gain: Float

    init(frames: Int, scale: [Float], sigma: Float, iterations: Int, noiseFloor: Float, gain: Float) {
        self.frames = frames; self.scale = scale; self.sigma = sigma; self.iterations = iterations
        self.noiseFloor = noiseFloor; self.gain = gain
        unitScale = scale.allSatisfy { $0 == 1 }
    }

    /// Combines `pixels` pixels of a strip (`frames` blocks of `pixels` values)
    /// into `output`, in parallel over fixed chunks; returns the number of values rejected.
    func combineStrip(_ strip: UnsafeBufferPointer<Float>, pixels: Int, output: UnsafeMutableBufferPointer<Float>) -> Int {
        let chunks = max(1, min(16, pixels / 4096))
        let chunkSize = (pixels + chunks - 1) / chunks
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        nonisolated(unsafe) let out = output, countsOut = counts, strip = strip
        RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
            countsOut[chunk] = combine(strip, pixels: pixels, range: (chunk * chunkSize)..<min((chunk + 1) * chunkSize, pixels), output: out)
        }
        return counts.reduce(0, +)
    }

    private typealias Lanes = SIMD8<Float>

    private func combine(_ strip: UnsafeBufferPointer<Float>, pixels: Int, range: Range<Int>,
                         output out: UnsafeMutableBufferPointer<Float>) -> Int {
        let n = frames
        let values = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let sorted = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let scales = UnsafeMutablePointer<Float>.allocate(capacity: n)
        let work = UnsafeMutablePointer<Lanes>.allocate(capacity: 2 * n)
        defer { values.deallocate(); sorted.deallocate(); scales.deallocate(); work.deallocate() }
        for f in 0..<n { scales[f] = scale[f] }
        let base = UnsafeRawPointer(strip.baseAddress!)
        let floorApplies = noiseFloor > 0 || gain > 0
        let width = Lanes.scalarCount
        var rejected = 0

        /// The full rule for pixel p, from its values in frame order.
        func slowPath(_ p: Int) {
            var count = 0
            for f in 0..<n {
                let v = strip[f * pixels + p]
                if !v.isNaN { values[count] = unitScale ? v : v * scales[f]; count += 1 }
            }
            guard count > 2 else {
                var sum: Float = 0
                for i in 0..<count { sum += values[i] }
                out[p] = count > 0 ? sum / Float(count) : .nan
                return
            }
            if floorApplies {
                var sum: Float = 0, low = values[0], high = values[0]
                for i in 0..<count { sum += values[i]; low = min(low, values[i]); high = max(high, values[i]) }
                let mean = sum / Float(count)
                if high - low <= sigma * floor(at: mean) { out[p] = mean; return }
            }
            let (mean, kept) = clippedMean(values, count: count, sorted: sorted)
            out[p] = mean
            rejected += count - kept
        }

        // Eight pixels at a time: sum (in frame order), min, max and count of the
        // finite values, then the fast-path test, in SIMD lanes. A lane that fails
        // the test, or has a missing value, takes the full rule.
        // Without a floor there is no range test, but the first-iteration test in lanes
        // still settles most pixels (the flats flatblaze stacks: 5σ, no floor).
        var p = range.lowerBound
        do {
            let nf2 = Lanes(repeating: noiseFloor * noiseFloor), g = Lanes(repeating: gain), s = Lanes(repeating: sigma)
            let nf = Lanes(repeating: noiseFloor)
            while p + width <= range.upperBound {
                var sum = Lanes(repeating: 0), low = Lanes(repeating: .infinity), high = Lanes(repeating: -.infinity)
                // The second smallest and second largest values: the median lies between them.
                var low2 = low, high2 = high
                var complete = true
                for f in 0..<n {
                    var v = base.loadUnaligned(fromByteOffset: (f * pixels + p) * 4, as: Lanes.self)
                    if any(v .!= v) { complete = false; break }
                    if !unitScale { v *= Lanes(repeating: scales[f]) }
                    sum += v
                    // Not pointwiseMin/Max: those are IEEE minimum/maximum, lane by lane, and not inlined.
                    // low2 ← min(low2, max(low, v)) before low ← min(low, v); high2 alike.
                    low2.replace(with: v.replacing(with: low, where: v .< low), where: v .< low2)
                    high2.replace(with: v.replacing(with: high, where: v .> high), where: v .> high2)
                    low.replace(with: v, where: v .< low)
                    high.replace(with: v, where: v .> high)
                }
                if complete {
                    let mean = sum / Lanes(repeating: Float(n))
                    var pass = SIMDMask<Lanes.MaskStorage>(repeating: false)
                    if floorApplies {
                        let floor = gain > 0 ? (nf2 + mean.replacing(with: 0, where: mean .< 0) / g).squareRoot() : nf
                        pass = (high - low) .<= s * floor
                        if n >= 3 && !all(pass) {
                            // The median (centre) lies in [low2, high2], so no value is further from it than
                            // max(high − low2, high2 − low), and the floor there is at least the floor at low2
                            // (it grows with the level; same operations as `floor(at:)`, so also in floating
                            // point). Within σ × that, clippedMean's first iteration keeps every value and its
                            // answer is the frame-order mean: the same result, without the sorting networks.
                            let floorLow = gain > 0 ? (nf2 + low2.replacing(with: 0, where: low2 .< 0) / g).squareRoot() : nf
                            let upper = high - low2, lower = high2 - low
                            pass .|= upper.replacing(with: lower, where: lower .> upper) .<= s * floorLow
                        }
                    }
                    if n <= 2 || all(pass) {
                        UnsafeMutableRawPointer(out.baseAddress! + p).storeBytes(of: mean, as: Lanes.self)
                    } else {
                        // The first clipping iteration in lanes: where it rejects nothing the
                        // answer is again the mean; only lanes that do reject go one by one.
                        let keepsAll = pass .| firstIterationKeepsAll(base, pixels: pixels, at: p, mean: mean, work: work)
                        for i in 0..<width {
                            if keepsAll[i] { out[p + i] = mean[i] } else { slowPath(p + i) }
                        }
                    }
                } else {
                    for i in 0..<width { slowPath(p + i) }
                }
                p += width
            }
        }
        while p < range.upperBound { slowPath(p); p += 1 }
        return rejected
    }

    /// For eight complete pixels (no NaN) at `p`: true in the lanes where the
    /// first clipping iteration keeps every value — the median (of the values
    /// sorted by an odd–even transposition network), the MAD (the deviations
    /// sorted the same way) and the floor computed exactly as `clippedMean`
    /// computes them, so a lane judged here is judged the same there.
    /// `work` holds 2 × frames vectors.
    @inline(__always)
    private func firstIterationKeepsAll(_ base: UnsafeRawPointer, pixels: Int, at p: Int, mean: Lanes,
                                        work: UnsafeMutablePointer<Lanes>) -> SIMDMask<Lanes.MaskStorage> {
        let n = frames
        let v = work, d = work + n
        for f in 0..<n {
            v[f] = base.loadUnaligned(fromByteOffset: (f * pixels + p) * 4, as: Lanes.self)
            if !unitScale { v[f] *= Lanes(repeating: scale[f]) }
        }
        Self.sortLanes(v, n)
        let centre = n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / Lanes(repeating: 2)
        for f in 0..<n {
            let e = v[f] - centre
            d[f] = e.replacing(with: -e, where: e .< 0)
        }
        Self.sortLanes(d, n)
        let mad = n % 2 == 1 ? d[n / 2] : (d[n / 2 - 1] + d[n / 2]) / Lanes(repeating: 2)
        var floor = Lanes(repeating: noiseFloor)
        if gain > 0 {
            let level = centre.replacing(with: 0, where: centre .< 0)
            floor = (Lanes(repeating: noiseFloor * noiseFloor) + level / Lanes(repeating: gain)).squareRoot()
        }
        var spread = mad * Lanes(repeating: Float(RobustStatistics.madToSigma))
        spread.replace(with: floor, where: floor .> spread)
        // No rejection when the spread is 0 (the iteration stops) or the largest deviation is within the limit.
        return .!(spread .> 0) .| (d[n - 1] .<= Lanes(repeating: sigma) * spread)
    }

    /// Sorts `n` vectors lane by lane (odd–even transposition: n rounds of
    /// compare-exchange, enough for the few frames of a stack).
    @inline(__always)
    private static func sortLanes(_ a: UnsafeMutablePointer<Lanes>, _ n: Int) {
        for round in 0..<n {
            var i = round % 2
            while i + 1 < n {
                let x = a[i], y = a[i + 1], swap = y .< x
                a[i] = x.replacing(with: y, where: swap)
                a[i + 1] = y.replacing(with: x, where: swap)
                i += 2
            }
        }
    }

    /// The noise floor at a level (Poisson part only with a gain).
    @inline(__always)
    private func floor(at level: Float) -> Float {
        gain > 0 ? (noiseFloor * noiseFloor + max(level, 0) / gain).squareRoot() : noiseFloor
    }

    /// The clipped mean of `count` (> 2) NaN-free values and how many were kept.
    @inline(__always)
    func clippedMean(_ values: UnsafeMutablePointer<Float>, count: Int, sorted s: UnsafeMutablePointer<Float>) -> (mean: Float, kept: Int) {
        for i in 0..<count { s[i] = values[i] }
        Self.sort(s, count)
        var lo = 0, hi = count
        for _ in 0..<iterations {
            let kept = hi - lo, mid = lo + kept / 2
            let centre = kept % 2 == 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
            let mad = Self.medianAbsoluteDeviation(s, lo, hi, centre: centre)
            let spread = max(mad * Float(RobustStatistics.madToSigma), floor(at: centre))
            guard spread > 0 else { break }
            let limit = sigma * spread
            var newLo = lo, newHi = hi
            while newLo < newHi && !(abs(s[newLo] - centre) <= limit) { newLo += 1 }
            while newHi > newLo && !(abs(s[newHi - 1] - centre) <= limit) { newHi -= 1 }
            let k = newHi - newLo
            if k == kept || k < 2 { break }
            lo = newLo; hi = newHi
        }
        let kept = hi - lo
        var sum: Float = 0
        if kept == count {
            for i in 0..<count { sum += values[i] }
        } else {
            let low = s[lo], high = s[hi - 1]
            for i in 0..<count where values[i] >= low && values[i] <= high { sum += values[i] }
        }
        return (sum / Float(kept), kept)
    }

    /// Median of |s[j] − centre| over the sorted run s[lo..<hi]: the deviations
    /// below and above the centre are each monotone, so merging them from the
    /// centre outwards reaches the middle one in (hi − lo)/2 steps. Even counts
    /// average the two middle deviations, as a median does.
    @inline(__always)
    static func medianAbsoluteDeviation(_ s: UnsafeMutablePointer<Float>, _ lo: Int, _ hi: Int, centre: Float) -> Float {
        let m = hi - lo
        var split = lo
        while split < hi && s[split] < centre { split += 1 }
        var l = split - 1, r = split
        var previous: Float = 0, current: Float = 0
        for _ in 0...(m / 2) {
            // centre − s[l] is exactly |s[l] − centre| (rounding is symmetric).
            let below = l >= lo ? centre - s[l] : .infinity
            let above = r < hi ? s[r] - centre : .infinity
            previous = current
            if below <= above { current = below; l -= 1 } else { current = above; r += 1 }
        }
        return m % 2 == 1 ? current : (previous + current) / 2
    }

    /// Sorts the first `n` values ascending (no NaN): optimal networks for the
    /// usual 3–5 frames (branch-free min/max), insertion sort otherwise.
    @inline(__always)
    static func sort(_ a: UnsafeMutablePointer<Float>, _ n: Int) {
        @inline(__always) func order(_ i: Int, _ j: Int) {
            let x = a[i], y = a[j]
            a[i] = min(x, y); a[j] = max(x, y)
        }
        switch n {
        case 3:
            order(0, 1); order(1, 2); order(0, 1)
        case 4:
            order(0, 1); order(2, 3); order(0, 2); order(1, 3); order(1, 2)
        case 5:
            order(0, 1); order(3, 4); order(2, 4); order(2, 3); order(0, 3)
            order(0, 2); order(1, 4); order(1, 3); order(1, 2)
        default:
            for i in 1..<max(n, 1) {
                let v = a[i]
                var j = i - 1
                while j >= 0 && a[j] > v { a[j + 1] = a[j]; j -= 1 }
                a[j + 1] = v
            }
        }
    }
}
