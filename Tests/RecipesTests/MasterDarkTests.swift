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
}
