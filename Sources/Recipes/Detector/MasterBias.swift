import CalibCore
import Dispatch
import Foundation

/// Master bias: the σ-clipped mean of a set of bias frames, with the
/// detector's bias level and read noise measured on the way.
///
/// Read noise comes from differences of frame pairs, σ(A − B)/√2, which
/// cancels the fixed bias pattern; a robust σ (MAD) keeps cosmic rays and hot
/// pixels out of it. Units are ADU throughout (the gain, where known,
/// converts to electrons).
public struct MasterBias: Sendable {
    public static let name = "mbias"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = ["clipSigma", "clipIterations"]

    public var stack: SigmaClippedStack

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let reader = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        stack = SigmaClippedStack(
            sigma: try reader.value("clipSigma", default: 3, in: 1...20),
            iterations: Int(try reader.value("clipIterations", default: 3, in: 1...50)))
    }

    public struct Result: Sendable {
        public var master: Image
        public var metrics: [QCMeasurement]
        public var rejectedValues: Int
        /// Columns (light-sensitive area indices) whose level stands out from the column structure.
        public var hotColumns: [Int] = []
    }

    /// - Parameters:
    ///   - source: the raw bias frames (≥ 2 for read noise; ≥ 3 for clipping).
    ///   - regions: science and overscan columns.
    ///   - gain: e⁻/ADU, to state read noise in electrons too (NaN if unknown).
    public func run(_ source: any FrameStripSource, regions: DetectorRegions, gain: Double = .nan) throws -> Result {
        // Read noise first: it is the per-pixel noise floor of the clipping, so
        // that five values whose MAD happens to be tiny do not reject good data.
        let readNoise = try Self.readNoise(source, columns: regions.science)
        let (master, rejected) = try stack.combine(source, noiseFloor: readNoise.isNaN ? 0 : Float(readNoise))
        let science = master.cropped(x: regions.science, y: 0..<master.height)
        // A 4-million-pixel sample puts the median within ~0.001 σ of the full image's, at a quarter of the cost.
        let level = RobustStatistics.median(Self.subsample(science.pixels, max: 1 << 22))
        let masterSigma = RobustStatistics.clippedStandardDeviation(Self.subsample(science.pixels, max: 1 << 20))
        var metrics = [
            QCMeasurement("biasLevelADU", level, unit: "ADU", "median of the master bias over the light-sensitive area"),
            QCMeasurement("readNoiseADU", readNoise, unit: "ADU", "σ(A−B)/√2 of raw bias pairs, 5σ-clipped"),
            QCMeasurement("masterNoiseADU", masterSigma, unit: "ADU", "5σ-clipped σ of the master bias (read noise/√N plus fixed pattern)"),
            QCMeasurement("frameCount", Double(source.frameCount), unit: "", "bias frames combined"),
            QCMeasurement("rejectedFraction", Double(rejected) / Double(source.frameCount * master.pixels.count), unit: "",
                          "fraction of pixel values rejected by clipping"),
        ]
        if !gain.isNaN {
            metrics.append(QCMeasurement("readNoiseElectrons", readNoise * gain, unit: "e-", "read noise times the gain"))
        }
        if let overscan = regions.overscan, !overscan.isEmpty {
            let region = master.cropped(x: overscan, y: 0..<master.height)
            let overscanLevel = RobustStatistics.median(region.pixels)
            metrics.append(QCMeasurement("overscanLevelADU", overscanLevel, unit: "ADU", "median of the master bias in the overscan"))
            metrics.append(QCMeasurement("scienceMinusOverscanADU", level - overscanLevel, unit: "ADU",
                                         "bias level above the overscan level"))
        }
        // Fixed-pattern structure: robust σ of the column and row medians; hot columns stand far above it.
        let columns = RobustStatistics.columnMedians(science)
        let rows = RobustStatistics.rowMedians(science)
        let (columnMedian, columnSigma) = RobustStatistics.madSigma(columns)
        let hotColumns = columns.indices.filter { Double(columns[$0]) > columnMedian + 8 * max(columnSigma, 0.5 * readNoise) }
        metrics += [
            QCMeasurement("columnStructureADU", RobustStatistics.meanAndStandardDeviation(columns).sd, unit: "ADU",
                          "standard deviation of the column medians (fixed column pattern)"),
            QCMeasurement("rowStructureADU", RobustStatistics.meanAndStandardDeviation(rows).sd, unit: "ADU",
                          "standard deviation of the row medians (fixed row pattern)"),
            QCMeasurement("hotColumnCount", Double(hotColumns.count), unit: "", "columns more than 8σ above the column structure"),
        ]
        var result = Result(master: master, metrics: metrics, rejectedValues: rejected)
        result.hotColumns = hotColumns
        return result
    }

    /// Median over frame pairs (0,1), (2,3), … (at most four) of σ(A − B)/√2 in a central band of rows.
    /// The pairs are read and measured in parallel (each estimate is computed as it would be alone;
    /// the median of the same estimates is the same).
    static func readNoise(_ source: any FrameStripSource, columns: Range<Int>) throws -> Double {
        guard source.frameCount >= 2 else { return .nan }
        let bandRows = min(source.height, max(64, (1 << 20) / max(columns.count, 1)))
        let first = (source.height - bandRows) / 2
        let rows = first..<(first + bandRows)
        let pairs = min(source.frameCount / 2, 4)
        let width = source.width
        var estimates = [Float](repeating: .nan, count: pairs)
        var failures = [(any Error)?](repeating: nil, count: pairs)
        estimates.withUnsafeMutableBufferPointer { estimates in
            failures.withUnsafeMutableBufferPointer { failures in
                nonisolated(unsafe) let estimates = estimates, failures = failures
                RecipeParallelism.concurrentPerform(iterations: pairs) { pair in
                    do {
                        var a = [Float](repeating: 0, count: bandRows * width)
                        var b = a
                        try a.withUnsafeMutableBufferPointer { try source.read(frame: 2 * pair, rows: rows, into: $0) }
                        try b.withUnsafeMutableBufferPointer { try source.read(frame: 2 * pair + 1, rows: rows, into: $0) }
                        let n = columns.count
                        let difference = [Float](unsafeUninitializedCapacity: bandRows * n) { out, initialized in
                            for r in 0..<bandRows {
                                for (k, x) in columns.enumerated() { out[r * n + k] = a[r * width + x] - b[r * width + x] }
                            }
                            initialized = bandRows * n
                        }
                        estimates[pair] = Float(RobustStatistics.clippedStandardDeviation(difference) / 2.0.squareRoot())
                    } catch {
                        failures[pair] = error
                    }
                }
            }
        }
        if let failure = failures.compactMap({ $0 }).first { throw failure }
        return RobustStatistics.median(estimates)
    }

    /// Every k-th value, so that statistics of a 4096² image cost what 1 M values cost.
    static func subsample(_ values: [Float], max count: Int) -> [Float] {
        guard values.count > count else { return values }
        let step = values.count / count
        let n = (values.count + step - 1) / step
        return [Float](unsafeUninitializedCapacity: n) { out, initialized in
            values.withUnsafeBufferPointer { v in for i in 0..<n { out[i] = v[i * step] } }
            initialized = n
        }
    }
}
