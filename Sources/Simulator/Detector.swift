import Foundation
import Dispatch

/// Everything about the detector that a calibration recipe should recover. Arrays over the science area
/// are row-major `size × size` (index = y * size + x); the overscan holds bias + read noise only.
public struct DetectorTruth: Sendable {
    public let size: Int
    public let overscanColumns: Int
    /// Bias level, ADU (overscan median; science area adds `biasPattern`).
    public let biasLevelADU: Double
    /// Read noise, ADU rms (= readNoiseElectrons / gain).
    public let readNoiseADU: Double
    public let readNoiseElectrons: Double
    /// Gain, electrons per ADU.
    public let gain: Double
    /// Dark current per rendered (binned) pixel, electrons/s (= nominal × binning²).
    public let darkCurrentElectronsPerSecond: Double
    /// Multiplicative response (PRNU × cold pixels/columns), science area.
    public let prnu: [Float]
    /// Science-area indices of cold pixels, including every pixel of the cold columns; sorted.
    public let coldPixels: [Int]
    public let coldColumns: [Int]
    /// Science-area indices of hot pixels (sorted) and their extra dark current (e⁻/s), same order.
    public let hotPixels: [Int]
    public let hotPixelRates: [Float]
    public let hotColumns: [Int]
    /// Extra dark current of every pixel of a hot column, e⁻/s.
    public let hotColumnElectronsPerSecond: Double
    /// Fixed bias pattern (ADU, zero-mean-ish) added to the bias level in the science area:
    /// biasPattern[y*size+x] = biasColumnPattern[x] + biasRowPattern[y].
    public let biasPattern: [Float]
    public let biasColumnPattern: [Float]
    public let biasRowPattern: [Float]
    /// Saturation level, ADU.
    public let saturationADU: Double
    /// Mean of `biasPattern`.
    public var biasPatternMean: Double {
        Double(biasColumnPattern.reduce(0, +)) / Double(size) + Double(biasRowPattern.reduce(0, +)) / Double(size)
    }
}

/// A detector instance: PRNU, bad pixels and bias pattern are fixed for the instrument + seed
/// (identical for every frame of a night, and of every night with the same seed).
public struct SimulatedDetector: Sendable {
    public let truth: DetectorTruth
    public let model: DetectorModel
    /// Per-column extra dark rate (hot columns), e⁻/s; length `size`.
    let columnDark: [Double]

    public init(model armModel: EchelleArmModel, size: Int, seed: UInt64) {
        let m = armModel.detector
        self.model = m
        let n = size
        let binFactor = Double(m.nominalPixels) / Double(n)
        let overscan = SimulatedArm.overscan(model: armModel, size: size)

        // PRNU (row streams, parallel).
        var prnu = [Float](repeating: 1, count: n * n)
        let sigma = m.prnuSigma
        prnu.withUnsafeMutableBufferPointer { buf in
            let box = UnsafeSendable(buf.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: n) { y in
                let base = box.value
                var rng = Xoshiro256StarStar(keys: seed, 0x5052_4E55, UInt64(y))
                let row = base + y * n
                for x in 0..<n { row[x] = Float(max(0.05, 1 + sigma * rng.normal())) }
            }
        }

        var rng = Xoshiro256StarStar(keys: seed, 0x4241_4450_4958)
        func pickUnique(_ count: Int, from range: Int, excluding: Set<Int> = []) -> [Int] {
            var s = Set<Int>()
            let target = min(count, max(0, range - excluding.count))
            while s.count < target {
                let v = Int(rng.next() % UInt64(range))
                if !excluding.contains(v) { s.insert(v) }
            }
            return s.sorted()
        }
        let nCold = Int((m.coldPixelFraction * Double(n * n)).rounded())
        let nHot = Int((m.hotPixelFraction * Double(n * n)).rounded())
        let coldCols = pickUnique(m.coldColumns, from: n)
        let hotCols = pickUnique(m.hotColumns, from: n, excluding: Set(coldCols))
        let coldPix = pickUnique(nCold, from: n * n)
        let hotPix = pickUnique(nHot, from: n * n, excluding: Set(coldPix))
        var hotRates: [Float] = []
        hotRates.reserveCapacity(hotPix.count)
        for _ in hotPix { hotRates.append(Float(m.hotPixelElectronsPerSecond * (0.5 + 1.5 * rng.uniform()))) }

        var coldAll = Set(coldPix)
        for i in coldPix { prnu[i] *= Float(m.coldPixelResponse * (0.5 + rng.uniform())) }
        for c in coldCols {
            for y in 0..<n { prnu[y * n + c] *= Float(m.coldPixelResponse); coldAll.insert(y * n + c) }
        }

        // Bias pattern: smooth ripple + random per column / row, rms ≈ the configured amplitude.
        var colPat = [Float](repeating: 0, count: n)
        var rowPat = [Float](repeating: 0, count: n)
        let ph1 = 2 * Double.pi * rng.uniform(), ph2 = 2 * Double.pi * rng.uniform()
        for x in 0..<n {
            let t = Double(x) / Double(n)
            let smooth = 0.8 * sin(2 * Double.pi * 3 * t + ph1) + 0.5 * sin(2 * Double.pi * 0.7 * t + ph2)
            colPat[x] = Float(m.biasColumnPatternADU * (smooth + 0.6 * rng.normal()) / 1.1)
        }
        for y in 0..<n {
            let t = Double(y) / Double(n)
            rowPat[y] = Float(m.biasRowPatternADU * (0.9 * sin(2 * Double.pi * 1.5 * t + ph2) + 0.6 * rng.normal()) / 0.9)
        }
        var pattern = [Float](repeating: 0, count: n * n)
        pattern.withUnsafeMutableBufferPointer { buf in
            let base = buf.baseAddress!
            colPat.withUnsafeBufferPointer { cp in
                for y in 0..<n {
                    let r = rowPat[y]
                    let row = base + y * n
                    for x in 0..<n { row[x] = cp[x] + r }
                }
            }
        }
        var colDark = [Double](repeating: 0, count: n)
        for c in hotCols { colDark[c] = m.hotColumnElectronsPerSecond }
        columnDark = colDark

        truth = DetectorTruth(size: n, overscanColumns: overscan, biasLevelADU: m.biasLevelADU,
                              readNoiseADU: m.readNoiseElectrons / m.gainElectronsPerADU,
                              readNoiseElectrons: m.readNoiseElectrons, gain: m.gainElectronsPerADU,
                              darkCurrentElectronsPerSecond: m.darkCurrentElectronsPerSecond * binFactor * binFactor,
                              prnu: prnu, coldPixels: coldAll.sorted(), coldColumns: coldCols, hotPixels: hotPix,
                              hotPixelRates: hotRates, hotColumns: hotCols,
                              hotColumnElectronsPerSecond: m.hotColumnElectronsPerSecond,
                              biasPattern: pattern, biasColumnPattern: colPat, biasRowPattern: rowPat,
                              saturationADU: min(65535, m.saturationADU))
    }
}
