import CalibCore
import Foundation
import Recipes
import Testing

/// The long-slit pixel flat against a synthetic flat whose three factors are known:
/// flat(x, y) = S(y) · I(u) · P(x, y) · slit(x, y), a lamp spectrum S, a slit illumination I
/// across the slit (u from 0 at the left edge to 1 at the right), a pixel response P with
/// 1 % Gaussian PRNU, and a tilted, bending slit blurred by σ = 0.8 px.
@Suite("Long-slit pixel flat on a synthetic flat with known PRNU")
struct LongSlitPixelFlatTests {
    static let width = 200, height = 1024
    static func lamp(_ y: Double) -> Double { 20000 * (0.3 + y / 1024) * (1 + 0.3 * sin(y / 90)) }
    /// The slit illumination tilts with wavelength, as ISIS's does (±4 % more at one end).
    static func illumination(_ u: Double, _ y: Double) -> Double { 1 + (0.04 + 0.08 * y / 1024) * (u - 0.5) - 0.15 * (u - 0.5) * (u - 0.5) }

    /// PRNU: 1 + 0.01·N(0, 1), from a fixed-seed generator (SplitMix64 and Box–Muller).
    static func prnu(seed: UInt64) -> Image {
        var state = seed
        func uniform() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return (Double((z ^ (z >> 31)) >> 11) + 0.5) / Double(1 << 53)
        }
        var image = Image(width: width, height: height)
        for i in image.pixels.indices {
            image.pixels[i] = Float(1 + 0.01 * (-2 * log(uniform())).squareRoot() * cos(2 * Double.pi * uniform()))
        }
        return image
    }

    static func render(prnu: Image) -> Image {
        var flat = Image(width: width, height: height)
        for y in 0..<height {
            let l = LongSlitSyntheticTests.leftEdge(Double(y)), r = LongSlitSyntheticTests.rightEdge(Double(y))
            for x in 0..<width {
                let u = (Double(x) - l) / (r - l)
                let light = LongSlitSyntheticTests.slitLight(x: Double(x), left: l, right: r, sigma: 0.8)
                flat[x, y] = Float(lamp(Double(y)) * illumination(u, Double(y)) * light) * prnu[x, y]
            }
        }
        return flat
    }

    @Test("The recovered pixel response is the known 1 % PRNU within 0.1 % RMS under an illumination that tilts with wavelength; outside the slit it is 1 and flagged")
    func recoversPRNU() throws {
        // Given a flat of known lamp spectrum, illumination and PRNU, with one dead pixel in the slit
        var truth = Self.prnu(seed: 13)
        truth[90, 500] = 0.1
        let flat = Self.render(prnu: truth)
        let left = (0..<Self.height).map { LongSlitSyntheticTests.leftEdge(Double($0)) }
        let right = (0..<Self.height).map { LongSlitSyntheticTests.rightEdge(Double($0)) }
        // When the lamp spectrum and illumination are divided out between the true edges
        let result = try LongSlitPixelFlat(parameters: [:]).run(flat, left: left, right: right, rows: 0...(Self.height - 1))
        // Then inside the slit the response is the truth: RMS difference < 0.001 (a tenth of the PRNU; measured 0.0008), none worse than 0.006 (measured 0.0048)
        var sumSquares = 0.0, worst = 0.0, good = 0
        for y in 0..<Self.height {
            for x in 0..<Self.width where result.flags[x, y] == 0 {
                let d = Double(result.response[x, y] - truth[x, y])
                sumSquares += d * d; worst = max(worst, abs(d)); good += 1
            }
        }
        let rms = (sumSquares / Double(good)).squareRoot()
        #expect(rms < 0.001 && worst < 0.006, "RMS \(rms), worst \(worst) over \(good) pixels")
        // And nearly every pixel of the slit's interior (≈ 144 px × 1024 rows) was measured and good
        #expect(good > 140 * 1024, "\(good)")
        // And the measured PRNU is the truth's 1 % within 5 %
        let metrics = Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.name, $0.value) })
        let sigma = try #require(metrics["pixelResponseSigma"])
        #expect(abs(sigma - 0.01) < 0.0005, "\(sigma)")
        #expect(abs(try #require(metrics["pixelResponseRMS"]) - 0.01) < 0.0005)
        // And the dead pixel is kept as measured and flagged 1, the only one
        #expect(result.flags[90, 500] == 1 && abs(result.response[90, 500] - 0.1) < 0.01)
        #expect(try #require(metrics["flaggedFraction"]) < 1e-4)
        // And outside the slit the response is 1, flagged 2
        #expect(result.response[5, 300] == 1 && result.flags[5, 300] == 2)
        #expect(result.response[195, 300] == 1 && result.flags[195, 300] == 2)
        // And every block's illumination profile has the truth's shape at its centre row within 0.3 %
        // (both scaled to their mean over u = 0.05…0.95: the recipe normalises to the median of its bins)
        for (block, profile) in result.illumination.enumerated() {
            let y = Double(block * 128) + 63.5
            let pairs = zip(result.illuminationPositions, profile).filter { $0.0 > 0.05 && $0.0 < 0.95 }
            let ratios = pairs.map { Double($0.1) / Self.illumination($0.0, y) }
            let mean = ratios.reduce(0, +) / Double(ratios.count)
            let worst = ratios.map { abs($0 / mean - 1) }.max() ?? .infinity
            #expect(worst < 0.003, "block \(block): worst shape error \(worst)")
        }
        // And the profile's range is the truth's: lowest at the left edge of the last block, ≈ 0.91 of the median
        let lastY = 959.5
        let truthMedian = RobustStatistics.median(result.illuminationPositions.filter { $0 > 0.02 && $0 < 0.98 }.map { Float(Self.illumination($0, lastY)) })
        #expect(abs(try #require(metrics["illuminationMin"]) - Self.illumination(0.025, lastY) / truthMedian) < 0.01, "\(metrics)")
    }

    @Test("With photon noise the recovered response differs from the PRNU by the noise alone, within 5 %")
    func photonNoise() throws {
        // Given the same flat with Gaussian photon noise of √signal (gain 1 e-/ADU), from a fixed seed
        let truth = Self.prnu(seed: 7)
        var flat = Self.render(prnu: truth)
        let noise = Self.prnu(seed: 99)   // 1 + 0.01·N(0, 1): N = (value − 1)/0.01
        var injected = [Double](repeating: .nan, count: flat.pixels.count)
        for i in flat.pixels.indices where flat.pixels[i] > 1000 {
            let n = Double(noise.pixels[i] - 1) / 0.01 * Double(flat.pixels[i]).squareRoot()
            injected[i] = n / Double(flat.pixels[i])
            flat.pixels[i] += Float(n)
        }
        let left = (0..<Self.height).map { LongSlitSyntheticTests.leftEdge(Double($0)) }
        let right = (0..<Self.height).map { LongSlitSyntheticTests.rightEdge(Double($0)) }
        // When the pixel flat is made
        let result = try LongSlitPixelFlat(parameters: [:]).run(flat, left: left, right: right, rows: 0...(Self.height - 1))
        // Then its error against the PRNU is the injected relative noise's RMS within 5 %: the smooth model adds almost nothing
        var error = 0.0, expected = 0.0, count = 0
        for y in 0..<Self.height {
            for x in 0..<Self.width where result.flags[x, y] == 0 && !injected[y * Self.width + x].isNaN {
                let d = Double(result.response[x, y] - truth[x, y]) / Double(truth[x, y])
                error += d * d; expected += injected[y * Self.width + x] * injected[y * Self.width + x]; count += 1
            }
        }
        let ratio = (error / expected).squareRoot()
        // (measured 1.004)
        #expect(count > 140 * 1024 && ratio > 0.95 && ratio < 1.05, "error/noise RMS ratio \(ratio) over \(count) pixels")
    }

    @Test("A frame with no lit slit fails with a reason, not a flat of ones")
    func unlitFails() {
        // Given a bias-level frame
        let dark = Image(width: Self.width, height: Self.height, value: 2)
        let left = [Double](repeating: 20, count: Self.height), right = [Double](repeating: 170, count: Self.height)
        // Then the recipe refuses it, saying why
        #expect(throws: LongSlitPixelFlat.Failure.self) {
            try LongSlitPixelFlat(parameters: [:]).run(dark, left: left, right: right, rows: 0...(Self.height - 1))
        }
    }
}
