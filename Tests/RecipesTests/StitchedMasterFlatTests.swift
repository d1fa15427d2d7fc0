import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

/// The BLUE arm's flats under both lamps: D2 flats (the arm's `d2FlatLamp`) and QTH flats, same detector and night.
struct TwoLampFlatFixture {
    let qth: MasterFlatFixture
    let d2Raw: [Image]
    let d2ExposureTime: Double
    static let lamps = LampStitch(blue: "D2", red: "QTH")

    init(size: Int = 1024, count: Int = 5) throws {
        qth = try MasterFlatFixture(arm: "BLUE", size: size, count: count)
        let d2 = try #require(qth.renderer.arm.model.d2FlatLamp, "the simulated BLUE arm has a D2 lamp")
        d2ExposureTime = d2.referenceExposureSeconds
        let renderer = qth.renderer
        d2Raw = (0..<count).map { i in
            let frame = renderer.render(.d2Flat(lampScale: 1), exposureTime: d2.referenceExposureSeconds, seed: 300 + UInt64(i))
            return Image(width: frame.width, height: frame.height, pixels: frame.pixels.map(Float.init))
        }
    }

    func run(_ parameters: [String: Double]) throws -> StitchedMasterFlat.Result {
        let columns = 0..<qth.renderer.arm.size
        let blue = CorrectedFrames(InMemoryFrames(d2Raw), subtracting: qth.bias, columns: columns)
        let red = CorrectedFrames(InMemoryFrames(qth.raw), subtracting: qth.bias, columns: columns)
        return try StitchedMasterFlat(parameters: parameters).run(
            blue: blue, blueExposureTimes: [Double](repeating: d2ExposureTime, count: d2Raw.count),
            red: red, redExposureTimes: [Double](repeating: qth.exposureTime, count: qth.raw.count),
            lamps: Self.lamps, centres: qth.centres, gain: qth.renderer.detector.truth.gain,
            readNoise: qth.renderer.detector.truth.readNoiseADU)
    }
}

/// Pearson correlation of the normalised flat with the true PRNU over inner-order pixels (flags 0,
/// not cold) whose true signal in `signal` reaches 10 000 e⁻, and the photon-noise limit of that
/// correlation, σ_PRNU / √(σ_PRNU² + mean error²).
func responseCorrelation(flat: Image, error: Image, flags: [UInt8], signal: (Int) -> Double, truth: DetectorTruth,
                         prnuSigma: Double) -> (correlation: Double, limit: Double, pixels: Int) {
    let cold = Set(truth.coldPixels)
    var recovered: [Double] = [], expected: [Double] = [], errorSquares = 0.0
    for i in flags.indices where flags[i] == 0 && !cold.contains(i) && signal(i) * truth.gain >= 10_000 {
        recovered.append(Double(flat.pixels[i])); expected.append(Double(truth.prnu[i]))
        errorSquares += Double(error.pixels[i] * error.pixels[i])
    }
    let limit = prnuSigma / (prnuSigma * prnuSigma + errorSquares / Double(max(recovered.count, 1))).squareRoot()
    return (pearson(recovered, expected), limit, recovered.count)
}

@Suite("Master flat stitched from D2 and QTH lamps, against the simulator's truth", .serialized)
struct StitchedMasterFlatTests {
    static let stitchOrder = 25

    @Test("Each order comes from its lamp, the scale is the lamps' true flux ratio, edges and response are as good as one lamp's")
    func againstTruth() throws {
        let fixture = try TwoLampFlatFixture()
        let result = try fixture.run(["stitchOrder": Double(Self.stitchOrder)])
        let sim = fixture.qth.renderer.arm, truth = fixture.qth.renderer.detector.truth
        let n = sim.size
        let stitched = result.stitched
        print("stitched metrics:", stitched.metrics.map { "\($0.name)=\($0.value)" }.joined(separator: " "))

        // Orders: above the stitch order from D2, the rest from QTH; all orders of the trace kept.
        #expect(result.blueOrders == fixture.qth.centres.orders.filter { $0 > Self.stitchOrder })
        #expect(result.redOrders == fixture.qth.centres.orders.filter { $0 <= Self.stitchOrder })
        #expect(stitched.geometry.orders == fixture.qth.centres.orders)
        #expect(result.blue.geometry.orders == [Self.stitchOrder] + result.blueOrders)
        #expect(result.red.geometry.orders == result.redOrders)

        // Scale: the true QTH ÷ D2 flux ratio per row (noise-free model, same exposure times), median over
        // the rows the recipe measured; within 1 %.
        let trueRatios = result.scaleRows.map { y in
            sim.flatExtractedFlux(order: Self.stitchOrder, y: y, exposureTime: fixture.qth.exposureTime)
                / sim.d2FlatExtractedFlux(order: Self.stitchOrder, y: y, exposureTime: fixture.d2ExposureTime)
        }
        let trueScale = RobustStatistics.median(trueRatios.map { Float($0) })
        print("scale \(result.scale) vs true \(trueScale) over \(result.scaleRows.count) rows; scatter \(result.scaleScatter)")
        #expect(result.scaleRows.count >= n / 2)
        #expect(abs(result.scale / trueScale - 1) <= 0.01)
        #expect(result.appliedScale == result.scale)
        #expect(stitched.metrics.first { $0.name == "stitchScale" }?.value == result.scale)
        #expect(stitched.metrics.first { $0.name == "stitchOrder" }?.value == Double(Self.stitchOrder))

        // Lamp per order, from the truth: the stitched stack summed across each order, divided by the
        // true flux of the lamp it should come from (D2 × the applied factor above the stitch order, QTH
        // at and below), is 1 within 2 % (median over the middle rows) and constant along the order
        // within 1 % (robust σ of the rows); divided by the other lamp's it is not — off in level, or,
        // in the stitch order where the factor equalises the levels, in shape along the order (the
        // lamps' spectra differ) — so an order taken from the wrong lamp would be seen.
        for order in stitched.geometry.orders {
            let range = try #require(stitched.geometry.rowRanges[order])
            let span = range.upperBound - range.lowerBound
            var right: [Float] = [], wrong: [Float] = []
            for y in stride(from: range.lowerBound + span / 5, through: range.upperBound - span / 5, by: 2) {
                let (lo, hi) = try #require(stitched.geometry.edges(order: order, y: Double(y)))
                let a = Int((lo - 2).rounded(.down)), b = Int((hi + 2).rounded(.up))
                guard a >= 0, b < n else { continue }
                var sum = 0.0
                for x in a...b { sum += Double(stitched.combined[x, y]) }
                let d2 = result.appliedScale * sim.d2FlatExtractedFlux(order: order, y: y, exposureTime: fixture.d2ExposureTime)
                let qth = sim.flatExtractedFlux(order: order, y: y, exposureTime: fixture.qth.exposureTime)
                let (expected, other) = order > Self.stitchOrder ? (d2, qth) : (qth, d2)
                right.append(Float(sum / expected)); wrong.append(Float(sum / other))
            }
            let (r, rs) = RobustStatistics.madSigma(right), (w, ws) = RobustStatistics.madSigma(wrong)
            print("order \(order) (\(order > Self.stitchOrder ? "D2" : "QTH")): stack ÷ own lamp \(r) ± \(rs), ÷ other lamp \(w) ± \(ws)")
            #expect(abs(r - 1) <= 0.02 && rs <= 0.01, "order \(order): stack ÷ its lamp's true flux = \(r) ± \(rs)")
            #expect(abs(w - 1) >= 0.05 || ws >= 0.05, "order \(order): the other lamp would fit as well (\(w) ± \(ws))")
        }

        // Edges of the stitched table against the true 5 % edges: RMS ≤ 0.2 px, as for one lamp.
        var sum = 0.0, count = 0
        for order in stitched.geometry.orders {
            let range = try #require(stitched.geometry.rowRanges[order])
            for y in stride(from: range.lowerBound, through: range.upperBound, by: 4) {
                let t = sim.edges(order: order, y: Double(y), fraction: 0.05)
                let f = try #require(stitched.geometry.edges(order: order, y: Double(y)))
                for (a, b) in [(f.lower, t.lower), (f.upper, t.upper)] where b > 2 && b < Double(n - 3) {
                    sum += (a - b) * (a - b); count += 1
                }
            }
        }
        let edgeRMS = (sum / Double(count)).squareRoot()
        print("stitched edge RMS \(edgeRMS) px over \(count) samples")
        #expect(edgeRMS <= 0.2)

        // Response: the stitched flat recovers the PRNU as well as the QTH-only master of the same arm
        // (each over its own pixels with ≥ 10 000 e⁻), and within 2 % of its photon-noise limit.
        let qthSignal = fixture.qth.renderer.expectedSignal(.flat(lampScale: 1), exposureTime: fixture.qth.exposureTime)
        let d2Signal = fixture.qth.renderer.expectedSignal(.d2Flat(lampScale: 1), exposureTime: fixture.d2ExposureTime)
        let blueSide = { (i: Int) -> Bool in
            let x = Double(i % n), y = i / n
            return result.blueTowardHighX ? x > result.boundary[y] : x < result.boundary[y]
        }
        let prnuSigma = fixture.qth.renderer.detector.model.prnuSigma
        let s = responseCorrelation(flat: stitched.flat, error: stitched.error, flags: stitched.flags,
                                    signal: { Double(blueSide($0) ? d2Signal[$0] : qthSignal[$0]) }, truth: truth, prnuSigma: prnuSigma)
        let single = try fixture.qth.run()
        let o = responseCorrelation(flat: single.flat, error: single.error, flags: single.flags,
                                    signal: { Double(qthSignal[$0]) }, truth: truth, prnuSigma: prnuSigma)
        print("response correlation: stitched \(s.correlation) (limit \(s.limit), \(s.pixels) px); QTH only \(o.correlation) (limit \(o.limit), \(o.pixels) px)")
        #expect(s.correlation >= 0.98 * s.limit)
        #expect(s.correlation / s.limit >= o.correlation / o.limit - 0.01)
        #expect(abs((stitched.metrics.first { $0.name == "innerOrderMean" }?.value ?? .nan) - 1) < 0.01)
    }

    @Test("With scaleBlueToRed 0 the factor is measured and recorded but not applied; the normalised flat does not change")
    func scalingOff() throws {
        let fixture = try TwoLampFlatFixture()
        let scaled = try fixture.run(["stitchOrder": Double(Self.stitchOrder)])
        let unscaled = try fixture.run(["stitchOrder": Double(Self.stitchOrder), "scaleBlueToRed": 0])
        #expect(unscaled.appliedScale == 1)
        #expect(unscaled.scale == scaled.scale)
        #expect(unscaled.stitched.metrics.first { $0.name == "stitchScaleApplied" }?.value == 1)
        // Blue side: the scaled stack is the unscaled one × the factor; the normalised flats agree.
        let n = fixture.qth.renderer.arm.size
        let y = n / 2, order = Self.stitchOrder + 2
        let c = scaled.stitched.geometry.centre(order: order, y: Double(y))
        let x = Int(c.rounded())
        let ratio = Double(scaled.stitched.combined[x, y] / unscaled.stitched.combined[x, y])
        #expect(abs(ratio / scaled.scale - 1) < 1e-4)
        var worst: Float = 0
        for i in scaled.stitched.flags.indices where scaled.stitched.flags[i] == 0 && unscaled.stitched.flags[i] == 0 {
            worst = max(worst, abs(scaled.stitched.flat.pixels[i] - unscaled.stitched.flat.pixels[i]))
        }
        print("largest normalised-flat difference scaled vs unscaled: \(worst)")
        #expect(worst < 1e-3)
    }

    @Test("A stitch order at the blue end of the trace is refused with the reason")
    func stitchOrderOutside() throws {
        let fixture = try TwoLampFlatFixture(size: 512, count: 3)
        let last = try #require(fixture.qth.centres.orders.last)
        #expect {
            try fixture.run(["stitchOrder": Double(last)])
        } throws: { error in
            "\(error)".contains("order \(last)") && "\(error)".contains("\(last + 1)")
        }
    }
}
