import Foundation
import Testing
@testable import Simulator

@Suite("Scattered light of simulated flats")
struct ScatteredLightTests {
    /// The RED arm at 512 px, with the given scattered-light fraction.
    static func renderer(fraction: Double?) -> FrameRenderer {
        var model = Fixture.red
        model.scatteredLight = fraction.map { ScatteredLightModel(fraction: $0, centreX: 0.55, centreY: 0.45, widthX: 0.6, widthY: 0.8) }
        model.detector.cosmicRayRatePerCm2PerSecond = 0
        return FrameRenderer(arm: SimulatedArm(model: model, size: 512, nightSeed: 12),
                             detector: SimulatedDetector(model: model, size: 512, seed: 5), lines: [])
    }

    @Test("The truth is exactly what the flat's noise-free signal gains, and its peak is the configured fraction of the order level")
    func truthIsTheAddedSignal() throws {
        let t = Fixture.red.flatLamp.referenceExposureSeconds
        let with = Self.renderer(fraction: 0.02), without = Self.renderer(fraction: nil)
        let scatter = with.scatteredLight(.flat(lampScale: 0.5), exposureTime: t)
        let a = with.expectedSignal(.flat(lampScale: 0.5), exposureTime: t), b = without.expectedSignal(.flat(lampScale: 0.5), exposureTime: t)
        var worst: Float = 0
        for i in a.indices { worst = max(worst, abs(a[i] - b[i] - scatter[i])) }
        let scatterPeak = scatter.max()!
        #expect(worst <= 1e-3 * scatterPeak)
        // Peak ≤ 2 % of the brightest order level, and at least 0.5 % of the median lit pixel.
        let brightest = b.max()!
        let lit = b.filter { $0 > 0.5 * brightest }.sorted()
        let peak = scatter.max()!
        print("scattered light peak \(peak) ADU; median lit pixel \(lit[lit.count / 2]); brightest \(brightest)")
        #expect(peak <= 0.02 * brightest * 1.01)
        #expect(peak >= 0.005 * lit[lit.count / 2])
        // Other exposures and a model without the key have none.
        #expect(with.scatteredLight(.orderDefinition, exposureTime: t).allSatisfy { $0 == 0 })
        #expect(without.scatteredLight(.flat(lampScale: 1), exposureTime: t).allSatisfy { $0 == 0 })
    }

    @Test("Rendered flats carry the scattered light between the orders")
    func renderedFramesCarryIt() throws {
        let t = Fixture.red.flatLamp.referenceExposureSeconds
        let renderer = Self.renderer(fraction: 0.02)
        let truth = renderer.detector.truth, n = renderer.arm.size
        let frame = renderer.render(.flat(lampScale: 1), exposureTime: t, seed: 3)
        let orderLight = Self.renderer(fraction: nil).expectedSignal(.flat(lampScale: 1), exposureTime: t)
        let scatter = renderer.scatteredLight(.flat(lampScale: 1), exposureTime: t)
        // Between the orders (no order light to 10⁻⁴ ADU), the raw − bias pixels average the scattered light.
        var measured = 0.0, expected = 0.0, count = 0
        for y in 0..<n {
            for x in 0..<n where orderLight[y * n + x] < 1e-4 {
                measured += Double(frame.pixels[y * frame.width + x]) - truth.biasLevelADU - Double(truth.biasPattern[y * n + x])
                expected += Double(scatter[y * n + x]); count += 1
            }
        }
        print("inter-order pixels \(count): mean raw − bias \(measured / Double(count)) ADU, truth \(expected / Double(count)) ADU")
        #expect(count > n * n / 10)
        #expect(abs(measured / expected - 1) < 0.02)
    }
}
