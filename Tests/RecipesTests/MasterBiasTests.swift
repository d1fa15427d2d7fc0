import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

/// The simulator's instrument model and line list, from the repository's config.
enum SimulatorFixture {
    static let configDirectory = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("config").path

    static func simulator() throws -> NightSimulator {
        try NightSimulator(modelPath: configDirectory + "/simulator/simechelle.yaml",
                           lineListPath: configDirectory + "/linelists/thar_nist_pypeit.dat")
    }

    /// `count` raw frames of one kind as float images, with the detector that made them.
    static func frames(_ kind: ExposureKind, count: Int, exposureTime: Double = 0, arm: String = "RED", size: Int = 512,
                       seed: UInt64 = 11) throws -> (images: [Image], detector: SimulatedDetector, arm: SimulatedArm) {
        let model = try #require(try simulator().model.arm(named: arm))
        let simulatedArm = SimulatedArm(model: model, size: size, nightSeed: seed)
        let detector = SimulatedDetector(model: model, size: size, seed: seed)
        let renderer = FrameRenderer(arm: simulatedArm, detector: detector, lines: [])
        let images = (0..<count).map { i in
            let raw = renderer.render(kind, exposureTime: exposureTime, seed: seed &+ UInt64(i) &* 7919)
            return Image(width: raw.width, height: raw.height, pixels: raw.pixels.map(Float.init))
        }
        return (images, detector, simulatedArm)
    }
}

@Suite("Master bias against the simulator's truth")
struct MasterBiasTests {
    @Test("Given five simulated biases, read noise and bias level are within 2 % of truth")
    func againstTruth() throws {
        let (images, detector, arm) = try SimulatorFixture.frames(.bias, count: 5)
        let recipe = try MasterBias(parameters: [:])
        let regions = DetectorRegions(science: 0..<arm.size, overscan: arm.size..<arm.rawWidth)
        let result = try recipe.run(InMemoryFrames(images), regions: regions, gain: detector.truth.gain)
        func metric(_ name: String) throws -> Double { try #require(result.metrics.first { $0.name == name }).value }

        let truth = detector.truth
        let readNoise = try metric("readNoiseADU")
        // Raw ADU are integers: rounding adds 1/12 ADU² of variance to the true read noise.
        let expectedReadNoise = (truth.readNoiseADU * truth.readNoiseADU + 1.0 / 12).squareRoot()
        #expect(abs(readNoise / expectedReadNoise - 1) < 0.02, "read noise \(readNoise) vs truth \(expectedReadNoise)")
        #expect(abs(readNoise / truth.readNoiseADU - 1) < 0.02)
        let level = try metric("biasLevelADU")
        let expectedLevel = truth.biasLevelADU + truth.biasPatternMean
        #expect(abs(level / expectedLevel - 1) < 0.02)
        #expect(abs(level - expectedLevel) < 0.5, "bias level \(level) vs truth \(expectedLevel) ADU")
        #expect(abs(try metric("overscanLevelADU") - truth.biasLevelADU) < 0.5)
        #expect(abs(try metric("readNoiseElectrons") - readNoise * truth.gain) < 1e-9)
        // The master keeps the fixed pattern: its column profile matches the truth's.
        let columnMeans = (0..<arm.size).map { x in (0..<arm.size).reduce(0.0) { $0 + Double(result.master[x, $1]) } / Double(arm.size) }
        let truthColumns = truth.biasColumnPattern.prefix(arm.size).map(Double.init)
        let correlation = pearson(columnMeans, Array(truthColumns))
        #expect(correlation > 0.95, "column structure correlation \(correlation)")
        // Clipping at 3σ with the read-noise floor rejects ≈0.3 % of Gaussian values, not percent-level.
        #expect(try metric("rejectedFraction") < 0.01)
    }

    @Test("A cosmic-ray-like outlier in one frame does not reach the master")
    func outlierRejected() throws {
        var (images, _, arm) = try SimulatorFixture.frames(.bias, count: 5)
        let clean = try MasterBias(parameters: [:]).run(InMemoryFrames(images), regions: DetectorRegions(science: 0..<arm.size))
        images[2][100, 100] += 5000
        let hit = try MasterBias(parameters: [:]).run(InMemoryFrames(images), regions: DetectorRegions(science: 0..<arm.size))
        #expect(abs(hit.master[100, 100] - clean.master[100, 100]) < 5)
    }

    @Test("Unknown or out-of-domain parameters are refused with their name")
    func parameters() {
        #expect(throws: RecipeParameterError.self) { try MasterBias(parameters: ["clipSigmaa": 3]) }
        #expect(throws: RecipeParameterError.self) { try MasterBias(parameters: ["clipSigma": 0.1]) }
    }
}

@Suite("Robust statistics")
struct RobustStatisticsTests {
    @Test("Median of odd, even, one, empty and NaN-holding inputs")
    func median() {
        #expect(RobustStatistics.median([3, 1, 2] as [Float]) == 2)
        #expect(RobustStatistics.median([4, 1, 3, 2] as [Float]) == 2.5)
        #expect(RobustStatistics.median([7] as [Float]) == 7)
        #expect(RobustStatistics.median([] as [Float]).isNaN)
        #expect(RobustStatistics.median([1, .nan, 3] as [Float]) == 2)
    }

    @Test("Clipped σ of integer-rounded Gaussian data is not quantised like the MAD")
    func clippedSigma() {
        var generator = SplitMix(seed: 3)
        let values: [Float] = (0..<200_000).map { _ in Float((generator.gaussian() * 2.5).rounded()) }
        let sd = RobustStatistics.clippedStandardDeviation(values)
        #expect(abs(sd - (2.5 * 2.5 + 1.0 / 12).squareRoot()) < 0.02)
    }
}

/// Pearson correlation coefficient.
func pearson(_ a: [Double], _ b: [Double]) -> Double {
    let n = Double(a.count)
    let ma = a.reduce(0, +) / n, mb = b.reduce(0, +) / n
    var sab = 0.0, saa = 0.0, sbb = 0.0
    for i in a.indices { sab += (a[i] - ma) * (b[i] - mb); saa += (a[i] - ma) * (a[i] - ma); sbb += (b[i] - mb) * (b[i] - mb) }
    return sab / (saa * sbb).squareRoot()
}

/// A small seeded generator for test data (SplitMix64 + Box–Muller).
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }
    mutating func gaussian() -> Double {
        let u = max(uniform(), 1e-300), v = uniform()
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
