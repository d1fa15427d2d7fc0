import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

@Suite("Lamp line fluxes against the simulator's injected fluxes")
struct LampFluxTests {
    @Test("Given a pinhole arc and the night's solution, isolated bright lines' fluxes are within 1 % of the injected ones")
    func echelleLineFluxes() throws {
        let fixture = try ArcFrameFixture.make(.arcSinglePinhole, exposureTime: 20)
        let solution = try DispersionMapFit(recipe: "disp_solution", parameters: [:])
            .singlePinhole(fixture.image, map: fixture.map.centralPinhole, gain: fixture.detector.truth.gain).solution
        let result = try LampLineFlux(parameters: ["psfFWHM": 6.1, "minimumSNR": 50])
            .run(fixture.image, map: fixture.map, solution: solution, exposureTime: fixture.exposureTime, gain: fixture.detector.truth.gain)
        // Isolated in truth: no other rendered line image with > 1 % of its flux within 4 FWHM.
        let all = fixture.renderer.singlePinholeLines
        let reach = 4 * fixture.arm.psfFWHM
        var checked = 0, worst = 0.0
        for line in result.lines {
            guard let truth = fixture.truthImage(order: line.order, wavelength: line.wavelength, slit: 0) else { continue }
            let crowded = all.contains { o in
                !(o.order == truth.order && o.line == truth.line) && abs(o.x - truth.x) < reach && abs(o.y - truth.y) < reach
                    && o.fluxADUPerSecond > 1e-2 * truth.fluxADUPerSecond
            }
            // Saturated lines (peak near 65535 ADU with the bias) are not measurable by any method.
            let f = erf(0.5 / (fixture.arm.psfSigma * 2.0.squareRoot()))
            let peakADU = truth.fluxADUPerSecond * fixture.exposureTime * f * f
            guard peakADU < 40_000, !crowded, fixture.peakSNR(flux: truth.fluxADUPerSecond * fixture.exposureTime) >= 100 else { continue }
            let expected = fixture.arm.lineFlux(truth.line, order: truth.order, exposureTime: 1)
            let ratio = line.fluxADUPerSecond / expected - 1
            worst = max(worst, abs(ratio))
            #expect(abs(ratio) < 0.01, "line \(line.wavelength) nm order \(line.order): \(line.fluxADUPerSecond) vs \(expected) ADU/s")
            #expect(abs(line.fluxElectronsPerSecond / (expected * fixture.detector.truth.gain) - 1) < 0.01)
            checked += 1
        }
        print("lamp fluxes: \(checked) isolated lines, worst deviation \(worst)")
        #expect(checked >= 5)
    }

    @Test("Lines whose core saturates are kept in the table, flagged with the reason and a NaN flux, and left out of the statistics")
    func saturatedLines() throws {
        // Given: a long exposure in which the brightest lines reach 65535 ADU.
        let fixture = try ArcFrameFixture.make(.arcSinglePinhole, exposureTime: 60)
        let solution = try DispersionMapFit(recipe: "disp_solution", parameters: [:])
            .singlePinhole(fixture.image, map: fixture.map.centralPinhole, gain: fixture.detector.truth.gain).solution
        // When
        let result = try LampLineFlux(parameters: ["psfFWHM": 6.1, "minimumSNR": 50])
            .run(fixture.image, map: fixture.map, solution: solution, exposureTime: fixture.exposureTime,
                 gain: fixture.detector.truth.gain, saturated: fixture.saturated)
        // Then: every line whose true image has a saturated pixel at its core is flagged, and only those.
        let f = erf(0.5 / (fixture.arm.psfSigma * 2.0.squareRoot()))
        let bias = fixture.detector.truth.biasLevelADU
        var flagged = 0
        for line in result.lines {
            let truth = try #require(fixture.truthImage(order: line.order, wavelength: line.wavelength, slit: 0))
            let peakRaw = truth.fluxADUPerSecond * fixture.exposureTime * f * f + bias
            if line.saturatedPixels > 0 {
                flagged += 1
                #expect(line.fluxADUPerSecond.isNaN && line.flag.hasPrefix("saturated"))
                // The truth's peak pixel (centred on a pixel: the most it can hold) reaches the level within noise and sub-pixel phase.
                #expect(peakRaw / fixture.detector.truth.saturationADU > 0.5, "line \(line.wavelength) flagged at \(peakRaw) ADU")
            } else {
                #expect(line.flag.isEmpty && line.fluxADUPerSecond.isFinite)
                // At the worst sub-pixel phase (centre on a pixel corner) the brightest pixel holds
                // (erf(1/σ√2)/2)² instead of erf(½/σ√2)² of the flux; a line brighter than that must saturate.
                let worstPhase = pow(erf(1 / (fixture.arm.psfSigma * 2.0.squareRoot())) / 2 / f, 2)
                let bright = peakRaw - bias
                #expect(bright * worstPhase + bias < 1.05 * fixture.detector.truth.saturationADU, "line \(line.wavelength) at \(peakRaw) ADU not flagged")
            }
        }
        let qc = Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.name, $0.value) })
        print("saturated lamp lines: \(flagged) flagged of \(result.lines.count)")
        #expect(flagged >= 3)
        #expect(qc["linesSaturated"] == Double(flagged))
        #expect(qc["medianLineFluxADUPerSecond"]?.isFinite == true)
    }

    @Test("Given a long-slit lamp frame, the Hector collapse and window sums give each line's flux within 1 %")
    func hectorProcedure() throws {
        // Given: 40 spatial rows × 600 dispersion pixels, three Gaussian lines of known total flux, read noise 3 ADU.
        let width = 600, rows = 40, exposure = 60.0
        let lines: [(centre: Double, flux: Double)] = [(100.3, 2.0e6), (300.7, 5.0e5), (451.1, 1.2e6)]
        var image = Image(width: width, height: rows)
        var rng = SystemRandomNumberGenerator()
        for y in 0..<rows {
            for x in 0..<width {
                var v = 0.0
                for l in lines {
                    let a = (Double(x) + 0.5 - l.centre) / 2.0, b = (Double(x) - 0.5 - l.centre) / 2.0
                    v += l.flux / Double(rows) * 0.5 * (erf(a / 2.0.squareRoot()) - erf(b / 2.0.squareRoot()))
                }
                let u1 = Double.random(in: 1e-12..<1, using: &rng), u2 = Double.random(in: 0..<1, using: &rng)
                image[x, y] = Float(v + 3 * (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2))
            }
        }
        let windows = try CollapsedLampSpectrum.parseWindows("name,start,stop\nA,88,114\nB,289,313\nC,439,464\n")
        // When
        let spectrum = CollapsedLampSpectrum.collapse(image, dispersionAxis: .x, crval1: 500, crpix1: 1, cdelt1: 0.1)
        let fluxes = spectrum.measure(windows, exposureTime: exposure, fibres: 61, gain: 1.5)
        // Then
        for (f, l) in zip(fluxes, lines) {
            #expect(abs(f.fluxADUPerSecond / (l.flux / exposure / 61) - 1) < 0.01, "\(f.window.name): \(f.fluxADUPerSecond)")
            // Pixel p (1-based) has centre at 0-based p − 1.
            #expect(abs(f.centralPixel - 1 - l.centre) < 0.05)
            #expect(abs(f.wavelength - (500 + (f.centralPixel - 1) * 0.1)) < 1e-9)
            #expect(!f.clamped)
        }
        #expect(throws: CollapsedLampSpectrum.WindowError.self) { try CollapsedLampSpectrum.parseWindows("name,start,stop\nA,1\n") }
    }
}
