import Foundation
import Simulator
import Testing

@Suite("A second (D2) flat lamp")
struct D2LampTests {
    /// The fixture's BLUE arm with a D2 lamp: 20 000 K, falling off past 440 nm (25 nm wide).
    static func arm(size: Int = 512) -> FrameRenderer {
        var model = Fixture.blueNoCosmics
        model.d2FlatLamp = ContinuumLampModel(temperatureKelvin: 20_000, peakCountsADU: 30_000, referenceExposureSeconds: 20,
                                              cutoffNanometres: 440, cutoffWidthNanometres: 25)
        let arm = SimulatedArm(model: model, size: size, nightSeed: 11)
        return FrameRenderer(arm: arm, detector: SimulatedDetector(model: model, size: size, seed: 5), lines: [])
    }

    @Test("Rendered D2 flats sum across each order to the lamp's extracted flux, peak at the configured counts, and fade to the red")
    func rendering() throws {
        let r = Self.arm()
        let arm = r.arm, n = arm.size
        let signal = r.expectedSignal(.d2Flat(lampScale: 1), exposureTime: 20)
        let gain = r.detector.truth.gain
        var checked = 0
        for m in arm.orders {
            for y in stride(from: 40, to: n - 40, by: 97) {
                let wide = arm.edges(order: m, y: Double(y), fraction: 1e-6)
                let xa = Int(wide.lower.rounded(.down)) - 2, xb = Int(wide.upper.rounded(.up)) + 2
                guard xa >= 0 && xb < n else { continue }
                let sum = (xa...xb).reduce(0.0) { $0 + Double(signal[y * n + $1]) }
                let truth = arm.d2FlatExtractedFlux(order: m, y: y, exposureTime: 20)
                #expect(abs(sum / truth - 1) < 0.01, "order \(m) row \(y): \(sum) vs \(truth)")
                checked += 1
            }
        }
        #expect(checked > 20)
        // expectedSignal is in ADU above bias (its gain conversion included): the brightest pixel is the configured peak.
        let peak = Double(signal.max() ?? 0)
        print("D2 peak \(peak) ADU (gain \(gain))")
        #expect(abs(peak / 30_000 - 1) < 0.02)
        // The bluest order (highest number) is far brighter than the reddest under D2, unlike under the QTH lamp.
        let blue = arm.orders.last!, red = arm.orders.first!, y = n / 2
        let d2Contrast = arm.d2FlatExtractedFlux(order: blue, y: y, exposureTime: 1) / arm.d2FlatExtractedFlux(order: red, y: y, exposureTime: 1)
        let qthContrast = arm.flatExtractedFlux(order: blue, y: y, exposureTime: 1) / arm.flatExtractedFlux(order: red, y: y, exposureTime: 1)
        print("blue ÷ red order flux: D2 \(d2Contrast), QTH \(qthContrast)")
        #expect(d2Contrast > 10 * qthContrast)
    }

    @Test("An arm without a D2 lamp renders no D2 light, and its truth has no D2 flux")
    func noLamp() throws {
        let arm = SimulatedArm(model: Fixture.blueNoCosmics, size: 256, nightSeed: 11)
        let r = FrameRenderer(arm: arm, detector: SimulatedDetector(model: Fixture.blueNoCosmics, size: 256, seed: 5), lines: [])
        #expect(r.expectedSignal(.d2Flat(lampScale: 1), exposureTime: 20).allSatisfy { $0 == 0 })
        #expect(arm.truth(sampleStep: 16).orders.allSatisfy { $0.d2FlatExtractedFluxPerSecond == nil })
        #expect(Self.arm(size: 256).arm.truth(sampleStep: 16).orders.allSatisfy { $0.d2FlatExtractedFluxPerSecond?.isEmpty == false })
    }
}
