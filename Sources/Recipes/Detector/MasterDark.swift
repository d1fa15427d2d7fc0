import CalibCore
import Dispatch
import Foundation

/// Master dark: bias-subtracted darks of one exposure time, σ-clipped and
/// combined, expressed as dark current in e⁻/s per pixel (through the gain),
/// with the hot pixels and hot columns it shows.
public struct MasterDark: Sendable {
    public static let name = "mdark"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = ["clipSigma", "clipIterations", "hotSigma", "hotColumnSigma"]

    public var stack: SigmaClippedStack
    /// A pixel is hot when its dark current exceeds the median by this many robust σ.
    public var hotSigma: Double
    /// A column is hot when its median exceeds the median column by this many robust σ of the column medians.
    public var hotColumnSigma: Double

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        stack = SigmaClippedStack(sigma: try r.value("clipSigma", default: 3, in: 1...20),
                                  iterations: Int(try r.value("clipIterations", default: 3, in: 1...50)))
        hotSigma = try r.value("hotSigma", default: 8, in: 2...1000)
        hotColumnSigma = try r.value("hotColumnSigma", default: 8, in: 2...1000)
    }

    public struct Result: Sendable {
        /// Dark current, e⁻/s per pixel (ADU per pixel with `offsetIncluded`).
        public var darkCurrent: Image
        /// `PixelFlag` bits (hot, badColumn).
        public var flags: [UInt8]
        public var hotPixels: [Int]
        public var hotColumns: [Int]
        public var metrics: [QCMeasurement]
    }

    /// - Parameters:
    ///   - source: darks with the master bias subtracted, light-sensitive area only.
    ///   - exposureTime: seconds (the set is matched on it).
    ///   - gain: e⁻/ADU; readNoise: ADU.
    ///   - offsetIncluded: the darks come from a detector without a bias (a near-infrared
    ///     array) and nothing was subtracted: the master stays in ADU, offset and dark signal
    ///     of this DIT together (what a lamp frame of that DIT and NDIT carries), since one
    ///     exposure time cannot tell them apart. Its level and noise are reported in ADU
    ///     (`darkLevelADU`, `darkLevelMedianADU`, `darkNoiseADU`) instead of e⁻/s; hot
    ///     pixels and columns are judged alike, against the median.
    public func run(_ source: any FrameStripSource, exposureTime: Double, gain: Double, readNoise: Double,
                    offsetIncluded: Bool = false) throws -> Result {
        precondition(exposureTime > 0 && gain > 0)
        var dark: Image, rejected: Int
        (dark, rejected) = try stack.combine(source, noiseFloor: Float(readNoise), gain: offsetIncluded ? 0 : Float(gain))
        let k = offsetIncluded ? 1 : Float(gain / exposureTime)
        // Scaled in place by both cores (each pixel on its own: the same products), not copied.
        dark.pixels.withUnsafeMutableBufferPointer { pixels in
            nonisolated(unsafe) let pixels = pixels
            Self.chunks(pixels.count) { range in for i in range { pixels[i] *= k } }
        }
        let sample = MasterBias.subsample(dark.pixels, max: 1 << 21)
        let stats = RobustStatistics.sigmaClippedStatistics(sample, sigma: 5, iterations: 10)
        let (median, sigma) = RobustStatistics.madSigma(sample)
        let limit = Float(median + hotSigma * max(sigma, 1e-9))
        var flags: [UInt8], hot: [Int]
        (flags, hot) = Self.hotPixels(dark.pixels, above: limit)
        let columns = RobustStatistics.columnMedians(dark)
        let (columnMedian, columnSigma) = RobustStatistics.madSigma(columns)
        // The spread of column medians can be ~0 (a long column's median sits on the
        // same quantised value in every column); never judge against less than the
        // noise a median of `height` pixels must have (1.2533 σ/√n).
        let columnNoise = 1.2533 * sigma / Double(dark.height).squareRoot()
        let columnLimit = columnMedian + hotColumnSigma * max(columnSigma, columnNoise, 1e-9)
        let hotColumns = columns.indices.filter { Double(columns[$0]) > columnLimit }
        for x in hotColumns { for y in 0..<dark.height { flags[y * dark.width + x] |= PixelFlag.badColumn } }
        let level = offsetIncluded ? [
            QCMeasurement("darkLevelADU", stats.mean, unit: "ADU", "5σ-clipped mean of the master (offset and dark signal)"),
            QCMeasurement("darkLevelMedianADU", median, unit: "ADU", "median of the master (offset and dark signal)"),
            QCMeasurement("darkNoiseADU", sigma, unit: "ADU", "robust σ of the master per pixel"),
        ] : [
            QCMeasurement("darkCurrent", stats.mean, unit: "e-/s", "5σ-clipped mean dark current per pixel"),
            QCMeasurement("darkCurrentMedian", median, unit: "e-/s", "median dark current per pixel"),
            QCMeasurement("darkNoise", sigma, unit: "e-/s", "robust σ of the master dark per pixel"),
        ]
        let metrics = level + [
            QCMeasurement("hotPixelCount", Double(hot.count), unit: "", "pixels above \(Int(hotSigma))σ"),
            QCMeasurement("hotPixelFraction", Double(hot.count) / Double(dark.pixels.count), unit: "", "fraction of hot pixels"),
            QCMeasurement("hotColumnCount", Double(hotColumns.count), unit: "", "hot columns"),
            QCMeasurement("frameCount", Double(source.frameCount), unit: "", "darks combined"),
            QCMeasurement("rejectedFraction", Double(rejected) / Double(source.frameCount * dark.pixels.count), unit: "",
                          "fraction of pixel values rejected by clipping"),
        ]
        return Result(darkCurrent: dark, flags: flags, hotPixels: hot, hotColumns: hotColumns, metrics: metrics)
    }

    /// `PixelFlag.hot` where a value exceeds `limit` (NaN never does), and those indices ascending:
    /// fixed chunks judged in parallel, their indices joined in chunk order.
    static func hotPixels(_ values: [Float], above limit: Float) -> (flags: [UInt8], indices: [Int]) {
        let n = values.count, chunk = 1 << 20
        let chunkCount = max(1, (n + chunk - 1) / chunk)
        var found = [[Int]](repeating: [], count: chunkCount)
        let flags = [UInt8](unsafeUninitializedCapacity: n) { out, initialized in
            values.withUnsafeBufferPointer { v in
                found.withUnsafeMutableBufferPointer { found in
                    nonisolated(unsafe) let out = out, v = v, found = found
                    RecipeParallelism.concurrentPerform(iterations: chunkCount) { c in
                        var hot: [Int] = []
                        for i in (c * chunk)..<min(n, (c + 1) * chunk) {
                            let isHot = v[i] > limit
                            out[i] = isHot ? PixelFlag.hot : 0
                            if isHot { hot.append(i) }
                        }
                        found[c] = hot
                    }
                }
            }
            initialized = n
        }
        return (flags, found.flatMap { $0 })
    }

    /// Runs `body` over fixed chunks of 0..<n on all cores.
    static func chunks(_ n: Int, _ body: @Sendable (Range<Int>) -> Void) {
        let chunk = 1 << 20
        RecipeParallelism.concurrentPerform(iterations: max(1, (n + chunk - 1) / chunk)) { c in
            body((c * chunk)..<min(n, (c + 1) * chunk))
        }
    }
}
