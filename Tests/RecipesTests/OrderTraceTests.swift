import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

/// Simulated frames already bias-subtracted with the true bias (level + fixed pattern), science area only.
enum CalibratedFrames {
    static func science(_ raw: RawFrame, detector: SimulatedDetector) -> Image {
        let n = detector.truth.size
        let level = Float(detector.truth.biasLevelADU)
        var pixels = [Float](repeating: 0, count: n * n)
        for y in 0..<n {
            for x in 0..<n { pixels[y * n + x] = Float(raw.pixels[y * raw.width + x]) - level - detector.truth.biasPattern[y * n + x] }
        }
        return Image(width: n, height: n, pixels: pixels)
    }

    /// The SIMECH first guesses of the order numbering, as configured in simech.yaml.
    static func traceParameters(arm: String) -> [String: Double] {
        arm == "BLUE" ? ["referenceOrder": 25, "referenceOrderX": 0.5, "orderDirection": 1]
            : ["referenceOrder": 21, "referenceOrderX": 0.5, "orderDirection": 1]
    }

    static func renderer(arm: String, size: Int, seed: UInt64 = 11) throws -> FrameRenderer {
        let model = try #require(try SimulatorFixture.simulator().model.arm(named: arm))
        return FrameRenderer(arm: SimulatedArm(model: model, size: size, nightSeed: seed),
                             detector: SimulatedDetector(model: model, size: size, seed: seed), lines: [])
    }
}

@Suite("Order-centre trace against the simulator's truth")
struct OrderTraceTests {
    @Test("Order centres are traced to ≤ 0.05 px RMS over all orders and rows, with physical order numbers",
          arguments: ["RED", "BLUE"])
    func centres(arm: String) throws {
        let renderer = try CalibratedFrames.renderer(arm: arm, size: 1024)
        let sim = renderer.arm
        let image = CalibratedFrames.science(renderer.render(.orderDefinition, exposureTime: sim.model.orderDefinitionLamp.referenceExposureSeconds, seed: 5),
                                             detector: renderer.detector)
        let result = try OrderTrace(parameters: CalibratedFrames.traceParameters(arm: arm)).run(image)
        let g = result.geometry
        print("\(arm): truth orders \(sim.orders), traced \(g.orders); mid-row x:",
              sim.orders.map { String(format: "%d:%.1f", $0, sim.centre(order: $0, y: Double(sim.size / 2)) / Double(sim.size - 1)) })
        #expect(Set(sim.orders).isSubset(of: Set(g.orders)), "traced \(g.orders), truth \(sim.orders)")
        var sum = 0.0, count = 0, worst = 0.0
        for order in g.orders {
            guard let range = g.rowRanges[order] else { continue }
            for y in stride(from: range.lowerBound, through: range.upperBound, by: 4) {
                let truth = sim.centre(order: order, y: Double(y))
                guard truth > 2, truth < Double(sim.size - 3) else { continue }
                let d = g.centre(order: order, y: Double(y)) - truth
                sum += d * d; count += 1; worst = max(worst, abs(d))
            }
        }
        let rms = (sum / Double(max(count, 1))).squareRoot()
        print("\(arm): centre RMS \(rms) px over \(count) samples, worst \(worst); metrics", result.metrics.map { "\($0.name)=\($0.value)" })
        #expect(rms <= 0.05, "centre RMS \(rms) px")
        #expect(count > 1000)
    }

    @Test("A first guess far from any trace is refused rather than misnumbering the orders")
    func wrongGuess() throws {
        #expect(throws: RecipeParameterError.self) { try OrderTrace(parameters: [:]) }
    }
}
