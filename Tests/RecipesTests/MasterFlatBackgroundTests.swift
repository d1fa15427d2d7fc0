import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

/// Simulated flats of the RED arm with a chosen scattered-light fraction (the simulator's
/// default is none), the true bias, and the order-centre trace of an order-definition frame.
struct ScatteredFlatFixture {
    let renderer: FrameRenderer
    let raw: [Image]
    let bias: Image
    let exposureTime: Double
    let centres: OrderGeometry

    init(scatteredFraction: Double, size: Int = 1024, count: Int = 5, seed: UInt64 = 11) throws {
        var model = try #require(try SimulatorFixture.simulator().model.arm(named: "RED"))
        var scatter = model.scatteredLight ?? ScatteredLightModel(fraction: 0)
        scatter.fraction = scatteredFraction
        model.scatteredLight = scatter
        let renderer = FrameRenderer(arm: SimulatedArm(model: model, size: size, nightSeed: seed),
                                     detector: SimulatedDetector(model: model, size: size, seed: seed), lines: [])
        self.renderer = renderer
        let sim = renderer.arm, truth = renderer.detector.truth
        exposureTime = model.flatLamp.referenceExposureSeconds
        let t = exposureTime
        raw = (0..<count).map { i in
            let frame = renderer.render(.flat(lampScale: 1), exposureTime: t, seed: 100 + UInt64(i))
            return Image(width: frame.width, height: frame.height, pixels: frame.pixels.map(Float.init))
        }
        var b = Image(width: sim.rawWidth, height: sim.size, value: Float(truth.biasLevelADU))
        for y in 0..<sim.size { for x in 0..<sim.size { b[x, y] += truth.biasPattern[y * sim.size + x] } }
        bias = b
        let orderDefinition = CalibratedFrames.science(
            renderer.render(.orderDefinition, exposureTime: model.orderDefinitionLamp.referenceExposureSeconds, seed: 5),
            detector: renderer.detector)
        centres = try OrderTrace(parameters: CalibratedFrames.traceParameters(arm: "RED")).run(orderDefinition).geometry
    }

    func run(_ parameters: [String: Double] = [:]) throws -> MasterFlat.Result {
        let source = CorrectedFrames(InMemoryFrames(raw), subtracting: bias, columns: 0..<renderer.arm.size)
        return try MasterFlat(parameters: parameters).run(
            source, exposureTimes: [Double](repeating: exposureTime, count: raw.count), centres: centres,
            gain: renderer.detector.truth.gain, readNoise: renderer.detector.truth.readNoiseADU)
    }

    /// RMS of fitted − true edges at the recipe's 5 % threshold, every 4th row of every order.
    func edgeRMS(_ result: MasterFlat.Result) throws -> Double {
        let sim = renderer.arm
        var sum = 0.0, count = 0
        for order in result.geometry.orders {
            let range = try #require(result.geometry.rowRanges[order])
            for y in stride(from: range.lowerBound, through: range.upperBound, by: 4) {
                let t = sim.edges(order: order, y: Double(y), fraction: 0.05)
                let f = try #require(result.geometry.edges(order: order, y: Double(y)))
                for (a, b) in [(f.lower, t.lower), (f.upper, t.upper)] where b > 2 && b < Double(sim.size - 3) {
                    sum += (a - b) * (a - b); count += 1
                }
            }
        }
        return (sum / Double(max(count, 1))).squareRoot()
    }

    /// How well the normalised flat recovers the true PRNU on inner-order pixels with ≥ 10 000 e⁻ of
    /// order light per flat (cold pixels left out): the Pearson correlation and the median
    /// |flat / PRNU − 1|.
    func response(_ result: MasterFlat.Result) -> (correlation: Double, medianError: Double) {
        let truth = renderer.detector.truth, n = renderer.arm.size
        let signal = renderer.expectedSignal(.flat(lampScale: 1), exposureTime: exposureTime)
        let scatter = renderer.scatteredLight(.flat(lampScale: 1), exposureTime: exposureTime)
        let cold = Set(truth.coldPixels)
        var recovered: [Double] = [], expected: [Double] = [], errors: [Float] = []
        for i in 0..<(n * n) where result.flags[i] == 0 && !cold.contains(i)
            && Double(signal[i] - scatter[i]) * truth.gain >= 10_000 {
            recovered.append(Double(result.flat.pixels[i])); expected.append(Double(truth.prnu[i]))
            errors.append(abs(result.flat.pixels[i] / truth.prnu[i] - 1))
        }
        return (pearson(recovered, expected), RobustStatistics.median(errors))
    }
}

@Suite("Master flat scattered-light background against the simulator's truth", .serialized)
struct MasterFlatBackgroundTests {
    static let subtract: [String: Double] = ["subtractBackground": 1]

    @Test("The fitted background matches the injected scattered light between and under the orders")
    func backgroundAgainstTruth() throws {
        // Given flats whose scattered light peaks at 2 % of the rows' mean illumination
        let fixture = try ScatteredFlatFixture(scatteredFraction: 0.02)
        // When the master flat fits and subtracts the background
        let result = try fixture.run(Self.subtract)
        let background = try #require(result.background)
        let truth = fixture.renderer.scatteredLight(.flat(lampScale: 1), exposureTime: fixture.exposureTime)
        // Then the fit departs from the truth by a small fraction of the background's level,
        // in the inter-order gaps (where it was fitted) and under the orders (where it was bridged)
        let level = RobustStatistics.median(truth)
        var between: [Float] = [], under: [Float] = []
        for i in truth.indices {
            let e = abs(background.pixels[i] - truth[i])
            if result.flags[i] & PixelFlag.interOrder != 0 { between.append(e) } else if result.flags[i] == 0 { under.append(e) }
        }
        let betweenError = RobustStatistics.median(between) / level
        let underError = RobustStatistics.median(under) / level
        var p95 = under
        let underP95 = RobustStatistics.percentileInPlace(&p95, 95) / level
        let metric = { (name: String) in result.metrics.first { $0.name == name }?.value ?? .nan }
        print("background level \(level) ADU; median |fit − truth| between orders \(betweenError), under orders \(underError), p95 under \(underP95); metrics",
              result.metrics.filter { $0.name.hasPrefix("background") }.map { "\($0.name)=\($0.value)" })
        #expect(level > 50, "the injected background is too faint to test the fit: \(level) ADU")
        #expect(betweenError <= 0.01)
        #expect(underError <= 0.01)
        #expect(underP95 <= 0.03)
        // And the QC figures describe the fitted surface
        let exposureLevel = metric("exposureLevelADU")
        #expect(abs(metric("backgroundMedianFraction") * exposureLevel / level - 1) < 0.05)
        #expect(abs(metric("backgroundMaxFraction") * exposureLevel / Double(truth.max()!) - 1) < 0.05)
        #expect(metric("backgroundFailedRows") == 0)
    }

    @Test("Subtracting the background keeps the flat normalised, its edges and its response as without scattered light")
    func subtractionRecoversTheFlat() throws {
        // Given the same flats with and without scattered light
        let clean = try ScatteredFlatFixture(scatteredFraction: 0)
        let scattered = try ScatteredFlatFixture(scatteredFraction: 0.02)
        // When the scattered flats are reduced with and without the background subtraction
        let baseline = try clean.run()
        let with = try scattered.run(Self.subtract)
        let without = try scattered.run()
        let metric = { (r: MasterFlat.Result, name: String) in r.metrics.first { $0.name == name }?.value ?? .nan }
        let (edgeBaseline, edgeWith, edgeWithout) = (try clean.edgeRMS(baseline), try scattered.edgeRMS(with), try scattered.edgeRMS(without))
        let (rBaseline, rWith, rWithout) = (clean.response(baseline), scattered.response(with), scattered.response(without))
        print("edge RMS: clean \(edgeBaseline), subtracted \(edgeWith), not subtracted \(edgeWithout) px")
        print("response ρ / median error: clean \(rBaseline), subtracted \(rWith), not subtracted \(rWithout)")
        print("innerOrderMean: clean \(metric(baseline, "innerOrderMean")), subtracted \(metric(with, "innerOrderMean")), not \(metric(without, "innerOrderMean"))")
        // Then the inner-order mean stays ≈ 1
        #expect(abs(metric(with, "innerOrderMean") - 1) < 0.01)
        // And the edges are as good as on clean flats (the existing 0.2 px bound), better than unsubtracted
        #expect(edgeWith <= 0.2)
        #expect(edgeWith <= edgeBaseline + 0.05)
        #expect(edgeWith < edgeWithout)
        // And the pixel response is recovered as on clean flats, and not worse than without subtraction
        #expect(rWith.correlation >= rBaseline.correlation - 0.005)
        #expect(rWith.correlation >= rWithout.correlation - 0.002)
        #expect(rWith.medianError <= rBaseline.medianError * 1.05)
    }

    @Test("Without scattered light, the subtraction finds next to nothing and the parameter off changes nothing")
    func cleanFlats() throws {
        // Given flats without scattered light
        let fixture = try ScatteredFlatFixture(scatteredFraction: 0)
        // When reduced by default, with the parameter explicitly off, and with it on
        let byDefault = try fixture.run()
        let off = try fixture.run(["subtractBackground": 0])
        let on = try fixture.run(Self.subtract)
        // Then off is the default: no background, the same flat, no background QC
        #expect(byDefault.background == nil && off.background == nil)
        #expect(off.flat == byDefault.flat && off.flags == byDefault.flags)
        #expect(!off.metrics.contains { $0.name.hasPrefix("background") })
        // And on, the background found is below 0.2 % of the flat's level and the flat barely moves
        let level = try #require(on.metrics.first { $0.name == "exposureLevelADU" }).value
        let background = try #require(on.background)
        var magnitudes = background.pixels.map { abs($0) }
        let p99 = RobustStatistics.percentileInPlace(&magnitudes, 99) / level
        var changes: [Float] = []
        for i in on.flags.indices where on.flags[i] == 0 && off.flags[i] == 0 { changes.append(abs(on.flat.pixels[i] - off.flat.pixels[i])) }
        let medianChange = RobustStatistics.median(changes)
        print("clean flats: 99th percentile |background| \(p99) of the level; median |Δflat| \(medianChange)")
        #expect(p99 < 0.002)
        #expect(medianChange < 0.001)
    }
}
