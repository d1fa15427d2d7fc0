import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

@Suite("Multi-pinhole spatial solution and 2D image map against the simulator's truth")
struct SpatialSolutionTests {
    @Test("Given a multi-pinhole arc, the night's single-pinhole solution and the nominal model, all pinholes are reproduced to ≤ 0.02 px RMS and the 2D map's wavelengths to < 0.02 px over every traced order, to the detector's edges")
    func againstTruth() throws {
        try check(nominal: true, beyondLines: 0.02)
    }

    /// Without a nominal model (SOXSPIPE's free polynomial), beyond an order's last line the map extrapolates.
    @Test("Without a nominal model, the same within the lines' span, and < 0.04 px beyond an order's last line")
    func withoutNominalModel() throws {
        try check(nominal: false, beyondLines: 0.04)
    }

    func check(nominal useNominal: Bool, beyondLines: Double) throws {
        // Given: the same night seen through the single pinhole and the multi-pinhole mask.
        let single = try ArcFrameFixture.make(.arcSinglePinhole)
        let multi = try ArcFrameFixture.make(.arcMultiPinhole, exposureTime: 10, frameSeed: 5)
        let disp = try DispersionMapFit(recipe: "disp_solution", parameters: [:])
        let nominal = useNominal ? single.nominal : nil
        let firstGuess = try disp.singlePinhole(single.image, map: single.map.centralPinhole, gain: single.detector.truth.gain,
                                                nominal: nominal)
        // When
        let recipe = try DispersionMapFit(recipe: "spatial_solution", parameters: ["slitHalfLength": 5.5])
        let result = try recipe.multiPinhole(multi.image, map: multi.map, firstGuess: firstGuess.solution, gain: multi.detector.truth.gain,
                                             nominal: nominal)
        // Then: bright pinhole images are where the truth puts them.
        var sum = 0.0, count = 0
        for line in result.lines {
            guard let truth = multi.truthImage(order: line.entry.order, wavelength: line.entry.wavelength, slit: line.entry.slit,
                                               multi: true),
                  multi.peakSNR(flux: truth.fluxADUPerSecond * multi.exposureTime) >= 100 else { continue }
            let p = result.solution.position(order: line.entry.order, wavelength: line.entry.wavelength, slit: line.entry.slit)
            sum += (p.x - truth.x) * (p.x - truth.x) + (p.y - truth.y) * (p.y - truth.y)
            count += 1
        }
        let rms = (sum / Double(max(count, 1))).squareRoot()
        let qc = Dictionary(uniqueKeysWithValues: result.metrics.map { ($0.name, $0.value) })
        print("multi pinhole (nominal model: \(useNominal)): rms \(rms) px over \(count) pinhole images; QC \(qc)")
        #expect(count >= 100)
        #expect(rms <= 0.02, "RMS \(rms) px over \(count) pinhole images")

        // And the 2D map: λ at each pixel centre, checked against the true λ at the map's own slit position,
        // expressed in pixels along the dispersion. "Traced" = inside the pinholes' span (|s| ≤ 4.5″) and
        // between the first and last used line of the order, where the solution interpolates; beyond them
        // (up to ~230 px in the bluest RED order, whose first rows hold only blends the map leaves out) a
        // free polynomial extrapolates, while nominal model + correction stays physical.
        let arm = multi.arm
        let map = DispersionImageMap.compute(result.solution, width: arm.size, height: arm.size, slitRange: -5.5...5.5)
        var span: [Int: ClosedRange<Double>] = [:]
        for line in result.lines where line.used {
            let w = line.entry.wavelength
            span[line.entry.order] = span[line.entry.order].map { min($0.lowerBound, w)...max($0.upperBound, w) } ?? w...w
        }
        var worst = 0.0, worstOutside = 0.0, checked = 0, outside = 0, sumSq = 0.0
        for y in stride(from: 3, to: arm.size - 3, by: 17) {
            for x in stride(from: 0, to: arm.size, by: 3) {
                let n = Int(map.order[x, y])
                guard n > 0, arm.orders.contains(n), result.solution.orders.contains(n), let traced = span[n] else { continue }
                let s = Double(map.slit[x, y]), lam = Double(map.wavelength[x, y])
                guard abs(s) <= 4.5 else { continue }
                let truth = arm.wavelength(order: n, y: Double(y), slit: s)
                let dlam = abs(arm.wavelength(order: n, y: Double(y) + 0.5, slit: s) - arm.wavelength(order: n, y: Double(y) - 0.5, slit: s))
                let px = abs(lam - truth) / dlam
                guard traced.contains(lam) else { worstOutside = max(worstOutside, px); outside += 1; continue }
                // Float32 storage holds λ to ~3e-5 nm at 800 nm, 1e-3 px of dispersion here.
                worst = max(worst, px); sumSq += px * px; checked += 1
                // And the slit position: the truth images (n, λ, s) at this very pixel.
                let p = arm.position(order: n, wavelength: lam, slit: s)
                #expect(abs(p.x - Double(x)) < 0.05, "pixel (\(x), \(y)) maps to x \(p.x)")
            }
        }
        print("2D map (nominal model: \(useNominal)): worst \(worst) px, rms \((sumSq / Double(max(checked, 1))).squareRoot()) px over \(checked) traced pixels; worst \(worstOutside) px over \(outside) extrapolated")
        #expect(checked > 1000)
        #expect(worst < 0.02, "worst wavelength error \(worst) px-equivalent over \(checked) traced pixels")
        #expect(worstOutside < beyondLines, "worst wavelength error \(worstOutside) px-equivalent over \(outside) extrapolated pixels")
    }
}
