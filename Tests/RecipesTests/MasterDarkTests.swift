import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

@Suite("Master dark against the simulator's truth")
struct MasterDarkTests {
    @Test("Dark current within 5 % of truth; hot pixels and hot columns found")
    func againstTruth() throws {
        let renderer = try CalibratedFrames.renderer(arm: "RED", size: 1024)
        let truth = renderer.detector.truth
        let n = truth.size
        let t = 300.0
        let raw = (0..<3).map { i in
            let f = renderer.render(.dark, exposureTime: t, seed: 40 + UInt64(i))
            return Image(width: f.width, height: f.height, pixels: f.pixels.map(Float.init))
        }
        var bias = Image(width: raw[0].width, height: n, value: Float(truth.biasLevelADU))
        for y in 0..<n { for x in 0..<n { bias[x, y] += truth.biasPattern[y * n + x] } }
        let source = CorrectedFrames(InMemoryFrames(raw), subtracting: bias, columns: 0..<n)
        let result = try MasterDark(parameters: [:]).run(source, exposureTime: t, gain: truth.gain, readNoise: truth.readNoiseADU)
        let dark = try #require(result.metrics.first { $0.name == "darkCurrent" }).value
        print("dark current \(dark) e-/s vs truth \(truth.darkCurrentElectronsPerSecond); hot \(result.hotPixels.count) vs \(truth.hotPixels.count); columns \(result.hotColumns) vs \(truth.hotColumns)")
        #expect(abs(dark / truth.darkCurrentElectronsPerSecond - 1) < 0.05)
        let found = Set(result.hotPixels)
        #expect(truth.hotPixels.filter { found.contains($0) }.count >= truth.hotPixels.count * 99 / 100)
        #expect(result.hotColumns == truth.hotColumns)
    }

    @Test("Without a bias (a near-infrared array): the master is offset plus dark signal in ADU, its level within 0.03 ADU; hot pixels still found")
    func offsetIncluded() throws {
        // Given three 10 s darks of a detector without a bias: offset 1000 ADU, 0.236 ADU of dark signal, 3.8 ADU noise,
        // and 20 hot pixels 500 ADU above the rest
        let (w, h) = (300, 200)
        let hot = Set((0..<20).map { 997 * $0 + 13 })
        var random = Xoshiro256StarStar(keys: 11)
        let frames = (0..<3).map { _ in
            Image(width: w, height: h, pixels: (0..<(w * h)).map { i in Float(1000.236 + (hot.contains(i) ? 500 : 0) + 3.8 * random.normal()) })
        }
        // When combined with nothing subtracted (the executor's floor: one dark's noise)
        let noise = try LampOffMaster.noise(InMemoryFrames(frames))
        let source = CorrectedFrames(InMemoryFrames(frames), subtracting: nil, columns: 0..<w)
        let result = try MasterDark(parameters: [:]).run(source, exposureTime: 10, gain: 2.12, readNoise: noise, offsetIncluded: true)
        let metrics = Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.name, $0.value) })
        // Then the level is in ADU, not e-/s: 1000.236 within 0.03 ADU (3σ of a mean over 60000 pixels of σ 3.8/√3)
        #expect(abs(try #require(metrics["darkLevelADU"]) - 1000.236) < 0.03, "\(metrics)")
        #expect(metrics["darkCurrent"] == nil)
        #expect(result.darkCurrent.pixels.count == w * h)
        // And its noise is that of a mean of three within 10 % (3.8/√3 ≈ 2.19 ADU); every hot pixel is found, nothing else
        #expect(abs(try #require(metrics["darkNoiseADU"]) / (3.8 / 3.0.squareRoot()) - 1) < 0.1, "\(metrics)")
        #expect(Set(result.hotPixels) == hot)
    }
}
