import CalibCore
import Dispatch

/// Read access to a set of equally-sized frames, one strip of rows at a time.
///
/// Combination recipes read through this so that stacking N frames of
/// 4096² never holds more than N strips in memory; the pipeline implements
/// it over FITS files, tests over arrays.
public protocol FrameStripSource: Sendable {
    var frameCount: Int { get }
    var width: Int { get }
    var height: Int { get }
    /// Fills `buffer` (rows.count × width floats) with rows of frame `frame`.
    func read(frame: Int, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws
}

/// Frames already in memory.
public struct InMemoryFrames: FrameStripSource {
    public let frames: [Image]
    public var frameCount: Int { frames.count }
    public var width: Int { frames[0].width }
    public var height: Int { frames[0].height }

    public init(_ frames: [Image]) {
        precondition(!frames.isEmpty && frames.allSatisfy { $0.width == frames[0].width && $0.height == frames[0].height })
        self.frames = frames
    }

    public func read(frame: Int, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let start = rows.lowerBound * width
        frames[frame].pixels.withUnsafeBufferPointer { source in
            _ = buffer.initialize(from: source[start..<(start + rows.count * width)])
        }
    }
}

/// Per-pixel σ-clipped combination of a frame stack, strip by strip.
public struct SigmaClippedStack: Sendable {
    /// Rejection threshold in robust σ (per pixel, across frames).
    public var sigma: Double
    public var iterations: Int
    /// Rows read per strip; memory is frames × stripRows × width × 4 bytes.
    public var stripRows: Int

    public init(sigma: Double = 3, iterations: Int = 3, stripRows: Int = 128) {
        self.sigma = sigma; self.iterations = iterations; self.stripRows = stripRows
    }

    /// Combines the frames, each first transformed by `scale[i]` (multiplied)
    /// — 1 for biases, 1/level for flats. Returns the combined image and the
    /// number of rejected pixel values.
    ///
    /// Per pixel: centre = median of the N values, σ = robust σ of the N
    /// values (MAD, but never below `floor[i]`-free Poisson estimates — the
    /// caller may pass `noiseFloor`), values beyond `sigma`·σ rejected,
    /// repeated; the mean of the kept values is the result. With N ≤ 2 the
    /// plain mean is used (nothing can be judged an outlier).
    ///
    /// With `gain` > 0 (e⁻/ADU) the floor also holds the Poisson noise of the
    /// pixel's own level, √(noiseFloor² + centre/gain), as flats need.
    public func combine(_ source: any FrameStripSource, scale: [Float]? = nil, noiseFloor: Float = 0,
                        gain: Float = 0) throws -> (image: Image, rejected: Int) {
        let n = source.frameCount, width = source.width, height = source.height
        var output = [Float](repeating: 0, count: width * height)
        var strip = [Float](repeating: 0, count: n * stripRows * width)
        var rejectedTotal = 0
        let scale = scale ?? [Float](repeating: 1, count: n)
        let sigma = Float(self.sigma), iterations = self.iterations
        var firstRow = 0
        while firstRow < height {
            let rows = firstRow..<min(firstRow + stripRows, height)
            let stripPixels = rows.count * width
            try strip.withUnsafeMutableBufferPointer { buffer in
                for f in 0..<n {
                    try source.read(frame: f, rows: rows, into: UnsafeMutableBufferPointer(rebasing: buffer[(f * stripPixels)..<((f + 1) * stripPixels)]))
                }
            }
            let rejected = strip.withUnsafeBufferPointer { stripBuffer in
                output.withUnsafeMutableBufferPointer { out in
                    Self.combineStrip(stripBuffer, frames: n, pixels: stripPixels, scale: scale, sigma: sigma,
                                      iterations: iterations, noiseFloor: noiseFloor, gain: gain,
                                      output: UnsafeMutableBufferPointer(rebasing: out[(rows.lowerBound * width)..<(rows.upperBound * width)]))
                }
            }
            rejectedTotal += rejected
            firstRow = rows.upperBound
        }
        return (Image(width: width, height: height, pixels: output), rejectedTotal)
    }

    private static func combineStrip(_ strip: UnsafeBufferPointer<Float>, frames n: Int, pixels: Int, scale: [Float],
                                     sigma: Float, iterations: Int, noiseFloor: Float, gain: Float = 0,
                                     output: UnsafeMutableBufferPointer<Float>) -> Int {
        let chunks = max(1, min(8, pixels / 4096))
        let chunkSize = (pixels + chunks - 1) / chunks
        let counts = UnsafeMutableBufferPointer<Int>.allocate(capacity: chunks)
        counts.initialize(repeating: 0)
        defer { counts.deallocate() }
        nonisolated(unsafe) let out = output
        nonisolated(unsafe) let countsOut = counts
        nonisolated(unsafe) let strip = strip
        let scales = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
        _ = scales.initialize(from: scale)
        defer { scales.deallocate() }
        nonisolated(unsafe) let scaleOf = UnsafeBufferPointer(scales)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let values = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            let work = UnsafeMutableBufferPointer<Float>.allocate(capacity: n)
            defer { values.deallocate(); work.deallocate() }
            var rejected = 0
            for p in (chunk * chunkSize)..<min((chunk + 1) * chunkSize, pixels) {
                var count = 0
                for f in 0..<n {
                    let v = strip[f * pixels + p]
                    if !v.isNaN { values[count] = v * scaleOf[f]; count += 1 }
                }
                guard count > 2 else {
                    var sum: Float = 0
                    for i in 0..<count { sum += values[i] }
                    out[p] = count > 0 ? sum / Float(count) : .nan
                    continue
                }
                // Fast path, taken by most pixels: the spread is never below the
                // noise floor, and no value is further from the median than the
                // range (max − min). So when the range is within sigma × floor,
                // nothing can be rejected and the mean is the answer — no sort.
                if noiseFloor > 0 || gain > 0 {
                    var sum: Float = 0, low = values[0], high = values[0]
                    for i in 0..<count { sum += values[i]; low = min(low, values[i]); high = max(high, values[i]) }
                    let mean = sum / Float(count)
                    let floor = gain > 0 ? (noiseFloor * noiseFloor + max(mean, 0) / gain).squareRoot() : noiseFloor
                    if high - low <= sigma * floor {
                        out[p] = mean
                        continue
                    }
                }
                for i in 0..<count { work[i] = values[i] }
                var centre = medianOf(work, count)
                var kept = count
                for iteration in 0..<iterations {
                    if iteration > 0 {
                        for i in 0..<kept { work[i] = values[i] }
                        centre = medianOf(work, kept)
                    }
                    for i in 0..<kept { work[i] = abs(values[i] - centre) }
                    let floor = gain > 0 ? (noiseFloor * noiseFloor + max(centre, 0) / gain).squareRoot() : noiseFloor
                    let spread = max(medianOf(work, kept) * Float(RobustStatistics.madToSigma), floor)
                    guard spread > 0 else { break }
                    let limit = sigma * spread
                    var k = 0
                    for i in 0..<kept where abs(values[i] - centre) <= limit { values[k] = values[i]; k += 1 }
                    if k == kept || k < 2 { if k >= 2 { kept = k }; break }
                    kept = k
                }
                var sum: Float = 0
                for i in 0..<kept { sum += values[i] }
                out[p] = sum / Float(kept)
                rejected += count - kept
            }
            countsOut[chunk] = rejected
        }
        return counts.reduce(0, +)
    }

    /// Median of the first `n` values of `a` (reorders them).
    @inline(__always)
    private static func medianOf(_ a: UnsafeMutableBufferPointer<Float>, _ n: Int) -> Float {
        // Insertion sort: n is the number of frames, typically 3–30.
        for i in 1..<n {
            let v = a[i]
            var j = i - 1
            while j >= 0 && a[j] > v { a[j + 1] = a[j]; j -= 1 }
            a[j + 1] = v
        }
        return n % 2 == 1 ? a[n / 2] : (a[n / 2 - 1] + a[n / 2]) / 2
    }
}
