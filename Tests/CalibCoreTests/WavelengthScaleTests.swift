@testable import CalibCore
import Testing

@Suite("Air and vacuum wavelengths")
struct WavelengthScaleTests {
    @Test("Vacuum to air follows the published air wavelengths of Hα, Na D2 and Ar I 811.5 to 0.001 nm")
    func knownLines() {
        // Given vacuum wavelengths (NIST) and their standard-air values
        let pairs: [(vacuum: Double, air: Double)] = [(656.4614, 656.2801), (589.1583, 588.9950), (811.7542, 811.5311)]
        for pair in pairs {
            // Then the conversion agrees within 0.001 nm
            #expect(abs(WavelengthScale.vacuum.convert(pair.vacuum, to: .air) - pair.air) < 0.001)
        }
    }

    @Test("Air to vacuum inverts vacuum to air to 1e-9 nm; NaN stays NaN; below 200 nm nothing changes")
    func roundTrip() {
        for nm in stride(from: 300.0, through: 2500, by: 137) {
            #expect(abs(WavelengthScale.air.convert(WavelengthScale.vacuum.convert(nm, to: .air), to: .vacuum) - nm) < 1e-9)
        }
        #expect(WavelengthScale.vacuum.convert(.nan, to: .air).isNaN)
        #expect(WavelengthScale.vacuum.convert(150, to: .air) == 150)
    }
}
