@testable import Pipeline
import Foundation
import Testing

@Suite("Pinhole line screening")
struct PinholeLineScreenTests {
    @Test("An isolated line has no pull; an equal neighbour 1σ away pulls by e^-½/(1+e^-½) σ")
    func pullOfANeighbour() {
        // Given two lines 0.01 nm apart and a PSF σ of 0.01 nm
        let screen = PinholeLineScreen(wavelengthsNm: [500, 500.01, 520], intensities: [100, 100, 50], listScale: .air,
                                       tableScale: .air, matchToleranceNm: 0.002)
        let g = exp(-0.5)
        // Then the pull is the analytic first-order centroid shift, to 1e-12
        #expect(abs(screen.judge(500.0005, sigmaNm: 0.01).pull - g / (1 + g)) < 1e-12)
        // And the isolated line has none
        #expect(screen.judge(520, sigmaNm: 0.01).pull == 0)
        #expect(screen.judge(520, sigmaNm: 0.01).intensity == 50)
        // And a wavelength beyond the tolerance is not matched
        #expect(screen.judge(510, sigmaNm: 0.01).intensity == nil)
    }

    @Test("A vacuum list is compared on the air scale: 656.4614 vac matches 656.2801 air")
    func scaleConversion() {
        let screen = PinholeLineScreen(wavelengthsNm: [656.4614], intensities: [1], listScale: .vacuum, tableScale: .air,
                                       matchToleranceNm: 0.005)
        #expect(screen.match(656.2801) == 0)
        #expect(screen.match(656.4614) == nil)
    }
}
