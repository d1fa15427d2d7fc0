import CalibCore
import Foundation
import Recipes
import Testing

/// The long-slit recipes against synthetic frames whose geometry and wavelengths are known
/// exactly: a tilted slit lit by a flat lamp, and an arc with a cubic λ(y), some catalog lines
/// missing from the lamp and some lamp lines missing from the catalog.
@Suite("Long-slit recipes on synthetic frames with known truth")
struct LongSlitSyntheticTests {
    /// Fraction of a pixel [x − ½, x + ½] inside a slit [left, right] blurred by a Gaussian of σ: the exact
    /// integral of a top-hat convolved with a Gaussian, so that the half-level crossing is the edge itself.
    static func slitLight(x: Double, left: Double, right: Double, sigma: Double) -> Double {
        func cdfIntegral(_ u: Double) -> Double {   // ∫ Φ(t/σ) dt, antiderivative
            let z = u / (sigma * 2.0.squareRoot())
            return u * 0.5 * (1 + erf(z)) + sigma / (2 * Double.pi).squareRoot() * exp(-z * z)
        }
        func inside(_ a: Double, _ b: Double) -> Double {   // ∫_a^b [Φ((t−left)/σ) − Φ((t−right)/σ)] dt
            (cdfIntegral(b - left) - cdfIntegral(a - left)) - (cdfIntegral(b - right) - cdfIntegral(a - right))
        }
        return inside(x - 0.5, x + 0.5)
    }

    static func leftEdge(_ y: Double) -> Double { 20.3 + 0.0021 * y + 1.5e-7 * y * y }
    static func rightEdge(_ y: Double) -> Double { 170.8 - 0.0013 * y }

    @Test("Slit edges of a noise-free tilted slit are found within 0.05 px of the truth at every row")
    func slitEdgesTruth() throws {
        // Given a flat lighting a slit whose edges drift and bend along the dispersion, blurred by σ = 0.8 px
        var flat = Image(width: 200, height: 1024)
        for y in 0..<flat.height {
            for x in 0..<flat.width {
                flat[x, y] = Float(5000 * Self.slitLight(x: Double(x), left: Self.leftEdge(Double(y)), right: Self.rightEdge(Double(y)), sigma: 0.8))
            }
        }
        // When the edges are traced in blocks of 8 rows (a block's median is its middle row's value for edges this straight)
        let result = try SlitEdgeTrace(parameters: ["blockRows": 8, "degree": 3]).run(flat)
        // Then both optical edges are the truth within 0.05 px wherever the slit was traced
        for y in stride(from: 8.0, through: 1016, by: 64) {
            #expect(abs(result.left.x(at: y) - Self.leftEdge(y)) < 0.05, "row \(y): \(result.left.x(at: y)) vs \(Self.leftEdge(y))")
            #expect(abs(result.right.x(at: y) - Self.rightEdge(y)) < 0.05, "row \(y): \(result.right.x(at: y)) vs \(Self.rightEdge(y))")
        }
        // And the illuminated edges lie inside the optical ones
        #expect(result.illuminatedLeft.x(at: 512) > result.left.x(at: 512))
        #expect(result.illuminatedRight.x(at: 512) < result.right.x(at: 512))
    }

    /// λ(y) = 4400 + 1.03 (y − 1023.5) + 2.5e-5 (y − 1023.5)² − 4e-9 (y − 1023.5)³, Å.
    static func wavelength(_ y: Double) -> Double {
        let u = y - 1023.5
        return 4400 + 1.03 * u + 2.5e-5 * u * u - 4e-9 * u * u * u
    }

    static func row(of lambda: Double) -> Double {
        var y = 1023.5 + (lambda - 4400) / 1.03
        for _ in 0..<50 { y -= (wavelength(y) - lambda) / (wavelength(y + 0.5) - wavelength(y - 0.5)) }
        return y
    }

    @Test("Lines identified without a template: every lamp line in the catalog found, the solution within 0.01 px of the truth")
    func identificationTruth() throws {
        // Given a catalog of 30 lines over the range, of which the lamp shows 24, plus 6 resolved lamp lines the catalog lacks
        var catalog: [Double] = []
        for k in 0..<30 {
            let spread: Double = 23 * sin(Double(k) * 1.7)
            catalog.append(3420 + 70 * Double(k) + spread)
        }
        var shown: [Double] = []
        for (k, lambda) in catalog.enumerated() where k % 5 != 2 { shown.append(lambda) }
        // Unknown lines half-way between catalog lines, so that they are resolved (blends are another matter)
        let unknown = [1, 6, 12, 17, 22, 27].map { (catalog[$0] + catalog[$0 + 1]) / 2 }
        // A noise-free spectrum of Gaussian lines (σ 1.2 px) on a flat continuum
        let n = 2048
        var spectrum = [Double](repeating: 50, count: n)
        for (k, lambda) in (shown + unknown).enumerated() {
            let centre = Self.row(of: lambda)
            let amplitude = 500 + 300 * Double(k % 7)
            for y in max(0, Int(centre) - 8)...min(n - 1, Int(centre) + 8) {
                spectrum[y] += amplitude * exp(-0.5 * pow((Double(y) - centre) / 1.2, 2))
            }
        }
        // A whisper of noise so the finder has a scale: ±0.5 ADU, deterministic
        for y in 0..<n { spectrum[y] += 0.5 * sin(Double(y) * 12.9898) }
        // When lines are found and identified knowing only the nominal dispersion (1.02 Å/px) and central wavelength (4420 ± 150 Å)
        let lines = ArcLineFinder(threshold: 8, halfWidth: 4, continuumWidth: 51).find(in: spectrum)
        var identification = LineIdentification(nominalDispersion: 1.02, centralWavelength: 4420, centralWavelengthTolerance: 150)
        identification.degree = 3
        let solution = try identification.identify(lines, catalog: catalog, pixelCount: n)
        // Then every shown catalog line inside the detector is used, and no unknown line is
        let inside = shown.filter { Self.row(of: $0) > 5 && Self.row(of: $0) < Double(n) - 6 }
        let used: [Double] = solution.used.map { (match: LineIdentification.Match) in match.wavelength }
        #expect(Set(used) == Set(inside), "\(used.sorted())")
        // And the solution is the truth within 0.01 px everywhere on the detector
        for y in stride(from: 0.0, through: Double(n - 1), by: 64) {
            let error = (solution.wavelength(at: y) - Self.wavelength(y)) / 1.03
            #expect(abs(error) < 0.01, "row \(y): \(error) px")
        }
    }
}
