import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

@Suite("Single-pinhole dispersion solution against the simulator's truth")
struct DispersionSolutionTests {
    static let parameters: [String: Double] = [:]

    /// RMS over bright lines of |solution − true position| and the shift error.
    static func figures(_ fixture: ArcFrameFixture, _ result: DispersionMapFit.Result) -> (rms: Double, count: Int, shiftX: Double, shiftY: Double) {
        var sum = 0.0, count = 0
        for line in result.lines where line.entry.slit == 0 {
            guard let truth = fixture.truthImage(order: line.entry.order, wavelength: line.entry.wavelength, slit: 0),
                  fixture.peakSNR(flux: truth.fluxADUPerSecond * fixture.exposureTime) >= 100 else { continue }
            let p = result.solution.position(order: line.entry.order, wavelength: line.entry.wavelength)
            let t = fixture.arm.position(order: line.entry.order, wavelength: line.entry.wavelength, slit: 0)
            sum += (p.x - t.x) * (p.x - t.x) + (p.y - t.y) * (p.y - t.y)
            count += 1
        }
        let d = fixture.arm.displacement
        return ((sum / Double(max(count, 1))).squareRoot(), count, result.shiftAtCentre.x - d.shiftXPixels,
                result.shiftAtCentre.y - d.shiftYPixels)
    }

    @Test("Given a 1024² pinhole arc displaced from the static map, the solution reproduces true positions of SNR ≥ 100 lines to ≤ 0.02 px RMS and the shift to 0.01 px")
    func againstTruth() throws {
        let fixture = try ArcFrameFixture.make(.arcSinglePinhole)
        let recipe = try DispersionMapFit(recipe: "disp_solution", parameters: Self.parameters)
        let result = try recipe.singlePinhole(fixture.image, map: fixture.map.centralPinhole, gain: fixture.detector.truth.gain)
        let f = Self.figures(fixture, result)
        let qc = Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.name, $0.value) })
        print("single pinhole: rms \(f.rms) px over \(f.count) lines; shift error \(f.shiftX), \(f.shiftY); displacement \(fixture.arm.displacement); QC \(qc)")
        #expect(f.count >= 50)
        #expect(f.rms <= 0.02, "RMS \(f.rms) px over \(f.count) lines")
        #expect(abs(f.shiftX) <= 0.01 && abs(f.shiftY) <= 0.01, "shift error \(f.shiftX), \(f.shiftY) px")
        #expect(try #require(qc["linesDetectedFraction"]) > 0.8)
    }
}
