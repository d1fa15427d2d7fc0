import Recipes
import Testing

@Suite("Global polynomial fits with clipping (LAPACK)")
struct PolynomialSurfaceFitTests {
    @Test("An exact degree-(3,4) surface is recovered to 1e-9 and outliers are clipped")
    func recoversSurfaceAndClipsOutliers() throws {
        // x = Σ cᵢⱼ nⁱ yʲ over orders 14…26 and rows 0…4095, the form of an order trace.
        func truth(_ n: Double, _ y: Double) -> Double {
            let nn = (n - 20) / 6, yy = (y - 2047.5) / 2047.5
            return 1500 + 900 * nn - 40 * nn * nn + 3 * nn * nn * nn + 25 * yy - 12 * yy * yy + 4 * nn * yy * yy * yy * yy
        }
        var points: [[Double]] = [], values: [Double] = []
        for n in 14...26 { for y in stride(from: 0.0, through: 4095, by: 64) { points.append([Double(n), y]); values.append(truth(Double(n), y)) } }
        let exact = try PolynomialSurfaceFit(degrees: [3, 4]).fit(points: points, values: values)
        #expect(exact.rms < 1e-9)
        #expect(abs(exact.surface.evaluate(17, 1000) - truth(17, 1000)) < 1e-8)

        var generator = SplitMix(seed: 9)
        var noisy = values.map { $0 + 0.05 * generator.gaussian() }
        let outliers = [5, 77, 300, 512]
        for i in outliers { noisy[i] += 25 }
        let fit = try PolynomialSurfaceFit(degrees: [3, 4], clipSigma: 4).fit(points: points, values: noisy)
        #expect(outliers.allSatisfy { fit.clipped[$0] })
        #expect(fit.clipped.filter { $0 }.count < outliers.count + 5)
        #expect(abs(fit.rms - 0.05) < 0.01)
    }

    @Test("Weighted: points measured to ±0.2 neither pull the surface like points measured to ±0.01 nor get clipped for their scatter")
    func weighted() throws {
        func truth(_ n: Double, _ y: Double) -> Double { 100 + 3 * n - 0.002 * y + 1e-7 * y * y * n }
        var generator = SplitMix(seed: 4)
        var points: [[Double]] = [], values: [Double] = [], weights: [Double] = [], faint: [Bool] = []
        for n in 14...26 { for y in stride(from: 0.0, through: 4095, by: 128) {
            let sigma = (Int(y) / 128 + n) % 4 == 0 ? 0.01 : 0.2   // one bright point in four
            points.append([Double(n), y]); values.append(truth(Double(n), y) + sigma * generator.gaussian())
            weights.append(1 / (sigma * sigma)); faint.append(sigma > 0.1)
        } }
        let weighted = try PolynomialSurfaceFit(degrees: [2, 2], clipSigma: 4).fit(points: points, values: values, weights: weights)
        let plain = try PolynomialSurfaceFit(degrees: [2, 2], clipSigma: 4).fit(points: points, values: values)
        func worst(_ f: PolynomialSurface) -> Double {
            var w = 0.0
            for n in 14...26 { for y in stride(from: 0.0, through: 4095, by: 256) { w = max(w, abs(f.evaluate(Double(n), y) - truth(Double(n), y))) } }
            return w
        }
        #expect(worst(weighted.surface) < 0.015, "weighted fit off by \(worst(weighted.surface))")
        #expect(worst(weighted.surface) < 0.5 * worst(plain.surface), "weighted \(worst(weighted.surface)) vs plain \(worst(plain.surface))")
        // Clipping judges residual × √w: a 4σ faint point is 0.8 off, a 4σ bright one 0.04.
        #expect(weighted.clipped.filter { $0 }.count <= 3)
        #expect(plain.clipped.indices.filter { plain.clipped[$0] }.allSatisfy { faint[$0] })
    }

    @Test("A surface with one variable held, a sum of surfaces with shared scaling, and a change of pixel scale evaluate as the originals")
    func algebra() throws {
        var points: [[Double]] = [], values: [Double] = []
        for n in 14...20 { for l in stride(from: 500.0, through: 600, by: 10) { for s in [-4.5, -1.5, 0, 1.5, 4.5] {
            points.append([Double(n), l, s]); values.append(3 * Double(n) + 0.01 * l * l + 7 * s + 0.2 * s * s * Double(n))
        } } }
        let surface = try PolynomialSurfaceFit(degrees: [2, 2, 2]).fit(points: points, values: values).surface
        let held = surface.fixing(variable: 2, at: 1.5)
        #expect(abs(held.evaluate(17, 555) - surface.evaluate(17, 555, 1.5)) < 1e-9)
        let correction = try PolynomialSurfaceFit(degrees: [1, 1, 0]).fit(
            points: points, values: points.map { 0.3 + 0.01 * $0[0] * $0[1] / 100 },
            scaling: (surface.offsets, surface.halfRanges)).surface
        let sum = surface.adding(correction)
        #expect(abs(sum.evaluate(18, 530, -3) - surface.evaluate(18, 530, -3) - correction.evaluate(18, 530, -3)) < 1e-9)
        let scaled = surface.transformed(factor: 0.25, shift: -0.375)
        #expect(abs(scaled.evaluate(15, 590, 4) - (0.25 * surface.evaluate(15, 590, 4) - 0.375)) < 1e-9)
    }

    @Test("Too few points for the degrees is a typed failure, not a crash")
    func tooFewPoints() {
        #expect(throws: PolynomialSurfaceFit.Failure.self) {
            try PolynomialSurfaceFit(degrees: [3, 3]).fit(points: [[1, 2], [2, 3], [3, 4]], values: [1, 2, 3])
        }
    }

    @Test("Three-variable surfaces (order, wavelength, slit)")
    func threeVariables() throws {
        var points: [[Double]] = [], values: [Double] = []
        for n in 14...20 { for l in stride(from: 500.0, through: 600, by: 10) { for s in [-4.5, -1.5, 0, 1.5, 4.5] {
            points.append([Double(n), l, s]); values.append(3 * Double(n) + 0.01 * l * l + 7 * s + 0.2 * s * Double(n))
        } } }
        let fit = try PolynomialSurfaceFit(degrees: [1, 2, 1]).fit(points: points, values: values)
        #expect(fit.rms < 1e-8)
        #expect(abs(fit.surface.evaluate(16, 555, 3) - (48 + 0.01 * 555 * 555 + 21 + 9.6)) < 1e-8)
    }
}
