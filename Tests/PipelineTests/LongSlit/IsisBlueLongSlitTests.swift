import CalibCore
import Foundation
import Recipes
import Testing

/// The long-slit recipes on real WHT/ISIS blue frames (R300B, CuNe+CuAr), compared with PypeIt
/// 2.0.1's figures for the same set (issue 13): RMS 0.327 px (0.283 Å) from 69 lines, its Cu
/// list lacking the strong 3247.5 and 3274.0 Å lines.
@Suite("Long-slit recipes on real ISIS blue frames")
struct IsisBlueLongSlitTests {
    static let frames = Result { try IsisBlueFrames.load() }

    @Test("The saturated flat r2324580 is left out with its reason; the 1.5 s flats are kept")
    func saturatedFlatRejected() throws {
        // Given the three flats, the first one saturated
        let frames = try Self.frames.get()
        var fractions: [Double] = [], levels: [Double] = []
        for f in 0..<frames.flatStack.frameCount {
            let raw = try frames.flatStack.image(f)
            let light = raw.pixels.prefix((IsisBlueFrames.lightRows.upperBound + 1) * raw.width)
            fractions.append(Double(light.filter { $0 >= 65535 }.count) / Double(light.count))
            var sample = Array(zip(light, frames.bias.pixels).map { $0 - $1 })
            levels.append(RobustStatistics.medianInPlace(&sample))
        }
        // When the screen judges them
        let verdict = FlatFrameScreen(maxSaturatedFraction: 0.001, normalise: true).judge(saturatedFractions: fractions, levels: levels)
        // Then only the saturated one is left out, saying how much of it is saturated
        #expect(verdict.accepted == [1, 2])
        #expect(verdict.rejected.map(\.index) == [0])
        #expect(verdict.rejected.first?.reason.contains("saturated") == true)
        // And the kept flats are scaled to one level (their 1.5 s levels differ by < 1%)
        #expect(verdict.scales.allSatisfy { abs($0 - 1) < 0.01 })
    }

    @Test("Wavelength solution found automatically from CuNe+CuAr lines: RMS at most 0.2 px (PypeIt 0.327 px)")
    func wavelengthSolution() throws {
        // Given the bias-subtracted arc; the slit fills the cropped window, so its centre is the window's
        let frames = try Self.frames.get()
        let centre = Double(frames.arc.width - 1) / 2
        // When lines are identified with only R300B's nominal dispersion and the header's central wavelength
        let recipe = try LongSlitWavelengthSolution(parameters: [
            "nominalDispersion": 0.865, "centralWavelength": 4225, "centralWavelengthTolerance": 300, "lastRow": 4098,
            "lineHalfWidth": 5, "maxCurvature": 3e-5, "maxCandidateLines": 30, "degree": 5,
        ])
        let result = try recipe.run(frames.arc, slitCentre: centre, catalog: try IsisBlueFrames.catalog().wavelengths)
        let solution = result.solution
        // Then the fit is within the 0.2 px (calibd: 0.11 px from 41 lines; PypeIt 0.327 px from 69)
        #expect(solution.rmsPixels <= 0.2)
        #expect(solution.used.count >= 35)
        // And the Cu I resonance lines (3248.48 and 3274.90 Å vacuum, absent from PypeIt's list) are identified and
        // agree with the other lines' solution to 0.15 px, so the blue end is measured, not extrapolated
        for wavelength in [3248.477, 3274.904] {
            let match = try #require(solution.used.first { $0.wavelength == wavelength }, "\(wavelength) Å not used")
            #expect(abs(match.residualPixels) < 0.15)
        }
        #expect(solution.used.filter { $0.wavelength < 3377 }.count >= 2)
        // And the dispersion at the centre is R300B's (PypeIt: 0.283 Å / 0.327 px = 0.865 Å/px) to 0.005 Å/px
        #expect(abs(solution.dispersion(at: 2049) - 0.865) < 0.005)
    }
}
