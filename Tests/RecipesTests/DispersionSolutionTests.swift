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

    @Test("Given a 1024² pinhole arc displaced from the static map, the solution (free polynomial, or nominal model + correction) reproduces true positions of SNR ≥ 100 lines to ≤ 0.02 px RMS and the shift to 0.01 px",
          arguments: [false, true])
    func againstTruth(nominal: Bool) throws {
        let fixture = try ArcFrameFixture.make(.arcSinglePinhole)
        let recipe = try DispersionMapFit(recipe: "disp_solution", parameters: Self.parameters)
        let result = try recipe.singlePinhole(fixture.image, map: fixture.map.centralPinhole, gain: fixture.detector.truth.gain,
                                              nominal: nominal ? fixture.nominal : nil)
        let f = Self.figures(fixture, result)
        let qc = Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.name, $0.value) })
        print("single pinhole (nominal model: \(nominal)): rms \(f.rms) px over \(f.count) lines; shift error \(f.shiftX), \(f.shiftY); displacement \(fixture.arm.displacement); QC \(qc)")
        #expect(f.count >= 30)
        #expect(f.rms <= 0.02, "RMS \(f.rms) px over \(f.count) lines")
        #expect(abs(f.shiftX) <= 0.01 && abs(f.shiftY) <= 0.01, "shift error \(f.shiftX), \(f.shiftY) px")
        #expect(try #require(qc["linesDetectedFraction"]) > 0.8)
    }

    @Test("With 10 % of the map's lines missing from the lamp and 5 % spurious features (blends, cosmic rays) added, RMS stays ≤ 0.03 px and no spurious position (> 0.1 px and > 5σ off) survives",
          arguments: [false, true])
    func robustness(nominal: Bool) throws {
        // Given: the lamp lacks every 10th map line; every 20th map line gets a spurious neighbour.
        let clean = try ArcFrameFixture.make(.arcSinglePinhole)
        let central = clean.map.centralPinhole.entries
        let missing = Set(stride(from: 0, to: central.count, by: 10).map { central[$0].wavelength })
        var fixture = try ArcFrameFixture.make(.arcSinglePinhole, lines: clean.lines.filter { !missing.contains($0.wavelength) })
        var spoiled = Set<Int>()
        for (k, i) in stride(from: 5, to: central.count, by: 20).enumerated() {
            let e = central[i]
            let t = fixture.arm.position(order: e.order, wavelength: e.wavelength, slit: 0)
            let x = Int(t.x.rounded()) + 1, y = Int(t.y.rounded()) + 1
            guard x > 1, y > 1, x < fixture.image.width - 2, y < fixture.image.height - 2 else { continue }
            let peak = fixture.image[Int(t.x.rounded()), Int(t.y.rounded())]
            if k % 2 == 0 {
                fixture.image[x, y] += 5 * max(peak, 200)          // a cosmic ray beside the line
            } else {
                for dy in -1...1 { for dx in -1...1 {              // a blend: a second, brighter image 1.4 px away
                    fixture.image[x + dx, y + dy] += Float(dx == 0 && dy == 0 ? 1.5 : 0.4) * max(peak, 200)
                } }
            }
            spoiled.insert(i)
        }
        // When
        let result = try DispersionMapFit(recipe: "disp_solution", parameters: Self.parameters)
            .singlePinhole(fixture.image, map: fixture.map.centralPinhole, gain: fixture.detector.truth.gain,
                           nominal: nominal ? fixture.nominal : nil)
        // Then
        let f = Self.figures(fixture, result)
        print("robustness (nominal model: \(nominal)): rms \(f.rms) px over \(f.count) lines; shift error \(f.shiftX), \(f.shiftY)")
        #expect(f.rms <= 0.03, "RMS \(f.rms) px")
        var survivors = 0
        for (i, line) in result.lines.enumerated() where line.used {
            let t = fixture.arm.position(order: line.entry.order, wavelength: line.entry.wavelength, slit: 0)
            let off = ((line.measurement.x - t.x) * (line.measurement.x - t.x) + (line.measurement.y - t.y) * (line.measurement.y - t.y)).squareRoot()
            // Spurious: farther than 0.1 px *and* than 5× its own fit uncertainty, which
            // an honest faint line (centre error ~0.04 px at SNR 20) does not reach.
            let ownError = (line.measurement.xError * line.measurement.xError + line.measurement.yError * line.measurement.yError).squareRoot()
            if off > 0.1 && off > 5 * ownError {
                survivors += 1
                Issue.record("used line order \(line.entry.order) λ \(line.entry.wavelength) nm lies \(off) px from the truth (spoiled: \(spoiled.contains(i)), missing: \(missing.contains(line.entry.wavelength)), flux \(line.measurement.flux), FWHM \(line.measurement.fwhmX)×\(line.measurement.fwhmY))")
            }
            #expect(!missing.contains(line.entry.wavelength) || off <= 0.1, "a missing line was 'found' \(off) px away")
        }
        #expect(survivors == 0, "\(survivors) used lines lie > 0.1 px and > 5σ from the truth")
        #expect(spoiled.count >= 3)
    }
}
