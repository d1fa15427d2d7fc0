import CalibCore
import Dispatch
import Foundation

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
    /// Rows read per strip; memory is 2 × frames × stripRows × width × 4 bytes
    /// (one strip combined while the next is read).
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
    /// plain mean is used (nothing can be judged an outlier). NaN values are
    /// missing data: left out of the statistics; a pixel with none is NaN.
    ///
    /// With `gain` > 0 (e⁻/ADU) the floor also holds the Poisson noise of the
    /// pixel's own level, √(noiseFloor² + centre/gain), as flats need.
    ///
    /// Reading overlaps combining: while strip k is combined (in parallel over
    /// fixed chunks of pixels), strip k + 1 is read into a second buffer (its
    /// frames in parallel), so the I/O of a file-backed source costs little
    /// wall time. Memory is two strips of all frames plus the output. Every
    /// pixel's result depends only on its own values, in frame order, so the
    /// result is the same whatever the scheduling.
    public func combine(_ source: any FrameStripSource, scale: [Float]? = nil, noiseFloor: Float = 0,
                        gain: Float = 0) throws -> (image: Image, rejected: Int) {
        let n = source.frameCount, width = source.width, height = source.height
        let scale = scale ?? [Float](repeating: 1, count: n)
        precondition(scale.count == n, "one scale per frame")
        let kernel = PixelClipping(frames: n, scale: scale, sigma: Float(self.sigma), iterations: iterations,
                                   noiseFloor: noiseFloor, gain: gain)
        let stripRows = max(1, self.stripRows)
        let strips = stride(from: 0, to: height, by: stripRows).map { $0..<min($0 + stripRows, height) }
        let capacity = n * stripRows * width
        nonisolated(unsafe) let buffers = [UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity),
                                           UnsafeMutableBufferPointer<Float>.allocate(capacity: capacity)]
        defer { buffers.forEach { $0.deallocate() } }
        var rejectedTotal = 0
        let output = try [Float](unsafeUninitializedCapacity: width * height) { out, initialized in
            guard !strips.isEmpty else { return }
            try Self.readStrip(source, rows: strips[0], into: buffers[0])
            let readFailure = FirstError()
            for (k, rows) in strips.enumerated() {
                let prefetch = DispatchGroup()
                if k + 1 < strips.count {
                    let next = strips[k + 1]
                    DispatchQueue.global().async(group: prefetch) {
                        do { try Self.readStrip(source, rows: next, into: buffers[(k + 1) % 2]) } catch { readFailure.record(error) }
                    }
                }
                let stripPixels = rows.count * width
                rejectedTotal += kernel.combineStrip(UnsafeBufferPointer(buffers[k % 2]), pixels: stripPixels,
                                                     output: UnsafeMutableBufferPointer(rebasing: out[(rows.lowerBound * width)..<(rows.upperBound * width)]))
                prefetch.wait()
                if let error = readFailure.error { throw error }
            }
            initialized = width * height
        }
        return (Image(width: width, height: height, pixels: output), rejectedTotal)
    }

    /// Reads `rows` of every frame into consecutive blocks of `buffer`, the frames in parallel.
    private static func readStrip(_ source: any FrameStripSource, rows: Range<Int>,
                                  into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let stripPixels = rows.count * source.width
        nonisolated(unsafe) let buffer = buffer
        let failure = FirstError()
        RecipeParallelism.concurrentPerform(iterations: source.frameCount) { f in
            do {
                try source.read(frame: f, rows: rows,
                                into: UnsafeMutableBufferPointer(rebasing: buffer[(f * stripPixels)..<((f + 1) * stripPixels)]))
            } catch {
                failure.record(error)
            }
        }
        if let error = failure.error { throw error }
    }
}

/// The first error thrown by any of several concurrent tasks.
private final class FirstError: @unchecked Sendable {
    private let lock = NSLock()
    private var first: (any Error)?

    var error: (any Error)? { lock.withLock { first } }

    func record(_ error: any Error) {
        lock.withLock { if first == nil { first = error } }
    }
}
