import Foundation
import Recipes
import Testing

/// `ArcLineFinder`'s sloped background: a faint line on the wing of a bright one (Kast's Hg
/// 4348.7 Å beside 4359.6 Å) is centred where it is, not pulled towards its neighbour.
@Suite("Arc line centres on a neighbour's wing")
struct ArcLineFinderTests {
    /// 200 px: a continuum of 50 ADU; a bright line (10⁵ ADU, σ 1.2 px) at row 100 whose
    /// profile has Lorentzian wings (2 % of the peak, half-width 4 px), as scattered light and
    /// the slit's image give real arc lines; a line 100× fainter at 90.3; an isolated line of
    /// 2000 ADU at 40.6; ±0.5 ADU of deterministic ripple so that the finder has a noise scale.
    static func spectrum() -> [Double] {
        (0..<200).map { k in
            let y = Double(k)
            var v = 50 + 0.5 * sin(y * 12.9898)
            v += 1e5 * exp(-0.5 * pow((y - 100) / 1.2, 2)) + 2000 / (1 + pow((y - 100) / 4, 2))
            v += 1000 * exp(-0.5 * pow((y - 90.3) / 1.2, 2))
            v += 2000 * exp(-0.5 * pow((y - 40.6) / 1.2, 2))
            return v
        }
    }

    static func centre(_ lines: [ArcLinePeak], near row: Double) throws -> Double {
        try #require(lines.min { abs($0.position - row) < abs($1.position - row) }).position
    }

    @Test("A line 100x fainter, 9.7 px from a bright one: within 0.02 px with a sloped background, biased over 0.1 px with a constant one")
    func faintLineOnWing() throws {
        // Given the spectrum with a faint line on the bright line's wing
        let spectrum = Self.spectrum()
        // When lines are found with a constant and with a sloped background under each Gaussian
        let constant = ArcLineFinder(threshold: 8, halfWidth: 3, continuumWidth: 51).find(in: spectrum)
        let sloped = ArcLineFinder(threshold: 8, halfWidth: 3, continuumWidth: 51, slopedBackground: true).find(in: spectrum)
        // Then with the slope the faint line is at its true row to 0.02 px
        let withSlope = try Self.centre(sloped, near: 90.3) - 90.3
        #expect(abs(withSlope) < 0.02, "\(withSlope) px")
        // And without it the wing pulls it towards the bright line by more than 0.1 px (the bias the slope removes)
        let withoutSlope = try Self.centre(constant, near: 90.3) - 90.3
        #expect(withoutSlope > 0.1, "\(withoutSlope) px")
        // And isolated lines are centred alike by both, to 0.005 px of the truth
        for lines in [constant, sloped] {
            #expect(abs(try Self.centre(lines, near: 40.6) - 40.6) < 0.005)
            #expect(abs(try Self.centre(lines, near: 100) - 100) < 0.005)
        }
    }

    @Test("Too few samples for a slope: with a half-width of 2 the finder keeps the constant background")
    func slopeNeedsSevenSamples() {
        // Given a half-width of 2 (five samples for five parameters)
        let finder = ArcLineFinder(threshold: 8, halfWidth: 2, continuumWidth: 51, slopedBackground: true)
        // Then the slope is not fitted
        #expect(!finder.slopedBackground)
    }
}
