import Foundation
import Testing
@testable import Simulator

// MARK: - helpers

private func median(_ v: [Double]) -> Double {
    let s = v.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : 0.5 * (s[s.count / 2 - 1] + s[s.count / 2])
}

private func std(_ v: [Double]) -> Double {
    let m = v.reduce(0, +) / Double(v.count)
    return (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot()
}

/// Bias-subtracted science-area value (ADU) of a raw frame at (x, y), using the detector truth.
private func signalADU(_ f: RawFrame, _ d: DetectorTruth, _ x: Int, _ y: Int) -> Double {
    Double(f.pixels[y * f.width + x]) - d.biasLevelADU - Double(d.biasPattern[y * d.size + x])
}

// MARK: - configuration and line list

@Suite struct ConfigurationTests {
    @Test func modelDecodesWithTwoArms() throws {
        let m = Fixture.model
        #expect(m.arms.map(\.name) == ["BLUE", "RED"])
        #expect(m.arm(named: "red")?.echelle.grooveDensityPerMillimetre == 95)
        // Round trip through JSON.
        let data = try JSONEncoder().encode(m)
        let back = try JSONDecoder().decode(EchelleInstrumentModel.self, from: data)
        #expect(back.arms[0].slit.pinholePositionsArcsec == m.arms[0].slit.pinholePositionsArcsec)
    }

    @Test func lineListParsesAngstromToNanometre() {
        let text = "# comment\n3000.1470 200 Th_II\n\n  4000.5 17 Ar_I\nbad line\n"
        let l = ArcLineList.parse(text)
        #expect(l.count == 2)
        #expect(abs(l[0].wavelength - 300.01470) < 1e-9)
        #expect(l[0].relativeIntensity == 200 && l[0].ion == "Th_II")
        #expect(l[1].ion == "Ar_I")
        #expect(Fixture.lines.count > 1000)
    }
}

// MARK: - determinism

@Suite struct DeterminismTests {
    @Test func sameSeedSamePixelsDifferentSeedDifferent() {
        let arm = SimulatedArm(model: Fixture.blue, size: 256, nightSeed: 3)
        let det = SimulatedDetector(model: Fixture.blue, size: 256, seed: 4)
        let r = FrameRenderer(arm: arm, detector: det, lines: Fixture.lines)
        let a = r.render(.flat(lampScale: 1), exposureTime: 10, seed: 42)
        let b = r.render(.flat(lampScale: 1), exposureTime: 10, seed: 42)
        let c = r.render(.flat(lampScale: 1), exposureTime: 10, seed: 43)
        #expect(a.pixels == b.pixels)
        #expect(a.pixels != c.pixels)
        // Independent instances with the same seeds agree too (no hidden global state).
        let arm2 = SimulatedArm(model: Fixture.blue, size: 256, nightSeed: 3)
        let det2 = SimulatedDetector(model: Fixture.blue, size: 256, seed: 4)
        let r2 = FrameRenderer(arm: arm2, detector: det2, lines: Fixture.lines)
        #expect(r2.render(.arcMultiPinhole, exposureTime: 5, seed: 9).pixels == r.render(.arcMultiPinhole, exposureTime: 5, seed: 9).pixels)
        #expect(det2.truth.prnu == det.truth.prnu)
        // A different night moves the instrument.
        let other = SimulatedArm(model: Fixture.blue, size: 256, nightSeed: 4)
        #expect(other.displacement != arm.displacement)
    }
}

// MARK: - bias

@Suite struct BiasTests {
    @Test func readNoiseLevelAndOverscan() {
        let n = 512
        let det = SimulatedDetector(model: Fixture.blue, size: n, seed: 21)
        let arm = SimulatedArm(model: Fixture.blue, size: n, nightSeed: 1)
        let r = FrameRenderer(arm: arm, detector: det, lines: [])
        let a = r.render(.bias, exposureTime: 0, seed: 1)
        let b = r.render(.bias, exposureTime: 0, seed: 2)
        let t = det.truth
        #expect(a.width == n + arm.overscanColumns && a.height == n)
        #expect(a.cosmicRayPixels == 0)
        var diff: [Double] = [], sci: [Double] = [], over: [Double] = []
        diff.reserveCapacity(n * n); sci.reserveCapacity(n * n)
        for y in 0..<n {
            for x in 0..<n {
                let i = y * a.width + x
                diff.append((Double(a.pixels[i]) - Double(b.pixels[i])) / 2.0.squareRoot())
                sci.append(Double(a.pixels[i]))
            }
            for x in n..<a.width { over.append(Double(a.pixels[y * a.width + x])) }
        }
        // Integer rounding adds 1/12 ADU² per frame; tolerance 2%.
        let s = std(diff)
        #expect(abs(s / t.readNoiseADU - 1) < 0.02, "std \(s) vs read noise \(t.readNoiseADU)")
        #expect(abs(median(sci) - (t.biasLevelADU + t.biasPatternMean)) <= 0.5)
        #expect(abs(median(over) - t.biasLevelADU) <= 0.5)
        // The column pattern is there: column means follow the truth pattern.
        var colMean = [Double](repeating: 0, count: n)
        for y in 0..<n { for x in 0..<n { colMean[x] += Double(a.pixels[y * a.width + x]) / Double(n) } }
        let resid = (0..<n).map { colMean[$0] - t.biasLevelADU - Double(t.biasColumnPattern[$0]) - Double(t.biasRowPattern.reduce(0, +)) / Double(n) }
        #expect(std(resid) < 0.3)
    }
}

// MARK: - geometry

@Suite struct GeometryTests {
    let arm = Fixture.blueArm1024

    @Test func ordersAreCurvedAndOnTheDetector() {
        let n = Double(arm.size)
        #expect(arm.orders.count >= 8)
        for m in arm.orders {
            let top = arm.centre(order: m, y: 0), mid = arm.centre(order: m, y: n / 2), bottom = arm.centre(order: m, y: n - 1)
            #expect(abs(top - bottom) > 5, "order \(m) not tilted/curved")
            // Curvature: the centre deviates from the chord between the ends.
            #expect(abs(0.5 * (top + bottom) - mid) > 2, "order \(m) not curved")
            #expect(mid >= 0 && mid <= n - 1, "order \(m) centre off detector")
        }
    }

    @Test func interOrderSpacingVariesMonotonically() {
        let y = Double(arm.size / 2)
        let c = arm.orders.map { arm.centre(order: $0, y: y) }
        let spacing = zip(c.dropFirst(), c).map { $0 - $1 }
        #expect(spacing.allSatisfy { $0 > 0 })
        let increasing = zip(spacing.dropFirst(), spacing).allSatisfy { $0 > $1 }
        #expect(increasing, "spacing \(spacing)")
        #expect(spacing.last! / spacing.first! > 1.3)
        // Clear gaps between the 5% edges of adjacent orders.
        for (a, b) in zip(arm.orders, arm.orders.dropFirst()) {
            let ea = arm.edges(order: a, y: y, fraction: 0.05), eb = arm.edges(order: b, y: y, fraction: 0.05)
            #expect(eb.lower - ea.upper > 10)
        }
    }

    @Test func orderWidthAndPSFAtBinnedSize() {
        #expect(arm.psfFWHM >= 1.5)
        for m in arm.orders {
            let e = arm.edges(order: m, y: Double(arm.size / 2), fraction: 0.5)
            #expect(e.upper - e.lower >= 8)
        }
    }

    @Test func positionWavelengthRoundTrip() {
        for m in arm.orders {
            for y in stride(from: 0.0, through: Double(arm.size - 1), by: 97.3) {
                for s in [-5.0, 0.0, 3.0] {
                    let l = arm.wavelength(order: m, y: y, slit: s)
                    let p = arm.position(order: m, wavelength: l, slit: s)
                    #expect(abs(p.y - y) < 1e-6)
                    let back = arm.wavelength(order: m, y: p.y, slit: s)
                    #expect(abs(back - l) < 1e-9 * l)
                }
            }
            let r = arm.wavelengthRange(order: m)
            #expect(abs(arm.position(order: m, wavelength: r.lowerBound, slit: 0).y + 0.5) < 1e-6)
        }
    }

    @Test func nominalVersusTrueDifferByNightDisplacement() {
        let d = arm.displacement
        let c = 0.5 * Double(arm.size - 1)
        let deg = Double.pi / 180
        var maxShift = 0.0
        for m in arm.orders {
            for l in stride(from: arm.wavelengthRange(order: m).lowerBound, to: arm.wavelengthRange(order: m).upperBound, by: 3) {
                let nom = arm.nominalPosition(order: m, wavelength: l, slit: 1.5)
                let tru = arm.position(order: m, wavelength: l, slit: 1.5)
                let (u, v) = (nom.x - c, nom.y - c)
                let eta = v / (Double(arm.size) / 2)
                let k = 1 + d.scaleChange
                let ex = c + k * (cos(d.rotationDegrees * deg) * u - sin(d.rotationDegrees * deg) * v) + d.shiftXPixels + d.curvaturePixels * eta * eta
                let ey = c + k * (sin(d.rotationDegrees * deg) * u + cos(d.rotationDegrees * deg) * v) + d.shiftYPixels
                #expect(abs(ex - tru.x) < 1e-9 && abs(ey - tru.y) < 1e-9)
                maxShift = max(maxShift, hypot(tru.x - nom.x, tru.y - nom.y))
            }
        }
        #expect(maxShift > 0.5 && maxShift < 6, "max displacement \(maxShift) px")
        // Identity displacement reproduces the nominal model.
        let still = SimulatedArm(model: Fixture.blueNoCosmics, size: 256, displacement: .identity)
        let p = still.position(order: still.orders[3], wavelength: 450, slit: 0)
        let q = still.nominalPosition(order: still.orders[3], wavelength: 450, slit: 0)
        #expect(p.x == q.x && p.y == q.y)
    }

    @Test func redArmLayout() {
        let r = Fixture.redArm1024
        #expect(r.orders.count >= 10)
        let lo = r.orders.map { r.wavelengthRange(order: $0).lowerBound }.min()!
        let hi = r.orders.map { r.wavelengthRange(order: $0).upperBound }.max()!
        #expect(lo < 545 && hi > 1000)
        let y = Double(r.size / 2)
        let c = r.orders.map { r.centre(order: $0, y: y) }
        let spacing = zip(c.dropFirst(), c).map { $0 - $1 }
        #expect(zip(spacing.dropFirst(), spacing).allSatisfy { $0 > $1 })
    }
}

// MARK: - flat

@Suite struct FlatTests {
    let r = Fixture.blueRenderer1024
    var arm: SimulatedArm { r.arm }

    @Test func noiseFreeSumMatchesExtractedFluxAndEdges() {
        let n = arm.size
        let t = 10.0
        let sig = r.expectedSignal(.flat(lampScale: 1), exposureTime: t)
        var checked = 0
        for m in arm.orders {
            for y in stride(from: 40, to: n - 40, by: 157) {
                let e = arm.edges(order: m, y: Double(y), fraction: 0.5)
                let wide = arm.edges(order: m, y: Double(y), fraction: 1e-6)
                let xa = Int(wide.lower.rounded(.down)) - 2, xb = Int(wide.upper.rounded(.up)) + 2
                guard xa >= 0 && xb < n else { continue }
                let profile = (xa...xb).map { Double(sig[y * n + $0]) }
                let sum = profile.reduce(0, +)
                let truth = arm.flatExtractedFlux(order: m, y: y, exposureTime: t)
                #expect(abs(sum / truth - 1) < 0.01, "order \(m) row \(y): \(sum) vs \(truth)")
                // Half-maximum crossings of the sampled profile (linear interpolation).
                let mid = 0.5 * (e.lower + e.upper)
                let central = Double(sig[y * n + Int(mid.rounded())])
                let half = 0.5 * central
                var lowerX = Double.nan, upperX = Double.nan
                for k in 0..<(profile.count - 1) {
                    let (p0, p1) = (profile[k], profile[k + 1])
                    let x0 = Double(xa + k)
                    if p0 < half && p1 >= half && lowerX.isNaN { lowerX = x0 + (half - p0) / (p1 - p0) }
                    if p0 >= half && p1 < half { upperX = x0 + (p0 - half) / (p0 - p1) }
                }
                #expect(abs(lowerX - e.lower) < 0.1 && abs(upperX - e.upper) < 0.1,
                        "order \(m) row \(y): \(lowerX),\(upperX) vs \(e)")
                checked += 1
            }
        }
        #expect(checked > 30)
    }

    @Test func noisyFlatSumMatchesExtractedFlux() {
        let n = arm.size
        let t = 10.0
        let frame = r.render(.flat(lampScale: 1), exposureTime: t, seed: 77)
        let d = r.detector.truth
        for m in arm.orders.prefix(6) {
            for y in [200, 511, 830] {
                let wide = arm.edges(order: m, y: Double(y), fraction: 1e-6)
                let xa = max(0, Int(wide.lower) - 2), xb = min(n - 1, Int(wide.upper) + 2)
                var sum = 0.0
                for x in xa...xb { sum += signalADU(frame, d, x, y) / Double(d.prnu[y * n + x]) }
                let truth = arm.flatExtractedFlux(order: m, y: y, exposureTime: t)
                #expect(abs(sum / truth - 1) < 0.01, "order \(m) row \(y): \(sum) vs \(truth)")
            }
        }
    }

    @Test func blazePeaksNearOrderCentre() {
        let n = Double(arm.size)
        for m in arm.orders {
            let bw = arm.blazePeakWavelength(order: m)
            #expect(abs(arm.blazeEfficiency(order: m, wavelength: bw) - 1) < 1e-12)
            let p = arm.position(order: m, wavelength: bw, slit: 0)
            #expect(abs(p.y - n / 2) < 0.1 * n)
            let r = arm.wavelengthRange(order: m)
            #expect(arm.blazeEfficiency(order: m, wavelength: r.lowerBound) < 0.5)
            #expect(arm.blazeEfficiency(order: m, wavelength: r.upperBound) < 0.5)
            // ≈ 0.405 at one half free spectral range from the peak (sinc² at ν = ½).
            let fsrEdge = bw * (1 + 0.5 / Double(m))
            #expect(abs(arm.blazeEfficiency(order: m, wavelength: fsrEdge) - 0.405) < 0.05)
        }
    }

    @Test func lampScaleAndPeakLevel() {
        let n = arm.size
        let full = r.expectedSignal(.flat(lampScale: 1), exposureTime: arm.model.flatLamp.referenceExposureSeconds)
        let halfSig = r.expectedSignal(.flat(lampScale: 0.5), exposureTime: arm.model.flatLamp.referenceExposureSeconds)
        let peak = Double(full.max()!)
        #expect(abs(peak / arm.model.flatLamp.peakCountsADU - 1) < 0.02)
        #expect(abs(Double(halfSig[n * n / 2 + 300]) - 0.5 * Double(full[n * n / 2 + 300])) < 1e-3 * peak)
        let off = r.render(.flat(lampScale: 0), exposureTime: 10, seed: 1)
        let vals = (0..<n).map { signalADU(off, r.detector.truth, $0 * 7 % n, $0) }
        #expect(abs(median(vals)) <= 1)
    }

    @Test func orderDefinitionTraceSitsOnCentre() {
        let n = arm.size
        let sig = r.expectedSignal(.orderDefinition, exposureTime: 10)
        for m in arm.orders {
            for y in [100, 600, 900] {
                let c = arm.centre(order: m, y: Double(y))
                let xa = Int(c) - 8, xb = Int(c) + 8
                guard xa >= 0, xb < n else { continue }
                var s = 0.0, sx = 0.0
                for x in xa...xb { let v = Double(sig[y * n + x]); s += v; sx += v * Double(x) }
                #expect(abs(sx / s - c) < 0.01)
            }
        }
    }
}

// MARK: - arcs

@Suite struct ArcTests {
    /// Renderer with the amplitude ≥ 300 subset of the ThAr list, so isolated lines exist at 1024².
    let r = Fixture.blueBrightRenderer1024

    /// Bright, isolated, unsaturated single-pinhole line images well inside the detector.
    func isolatedLines(exposure t: Double, count: Int) -> [ArcLineImage] {
        let imgs = r.singlePinholeLines
        let n = Double(r.arm.size)
        let sat = 0.5 * r.detector.truth.saturationADU
        var picks: [ArcLineImage] = []
        let candidates = imgs.filter { $0.fluxADUPerSecond * t > 2e4 && $0.fluxADUPerSecond * t * 0.35 < sat
            && $0.x > 20 && $0.x < n - 20 && $0.y > 20 && $0.y < n - 20 }
            .sorted { $0.fluxADUPerSecond > $1.fluxADUPerSecond }
        for c in candidates {
            // Neighbours within reach of the ±4 px window: centroid pull Σ f·d / F and flux share Σ f / F.
            var pull = 0.0, share = 0.0
            for o in imgs where o.line != c.line || o.order != c.order {
                let d = hypot(o.x - c.x, o.y - c.y)
                if d < 9 {
                    pull += o.fluxADUPerSecond / c.fluxADUPerSecond * d
                    share += o.fluxADUPerSecond / c.fluxADUPerSecond
                }
            }
            if pull < 0.01 && share < 0.004 { picks.append(c) }
            if picks.count == count { break }
        }
        return picks
    }

    @Test func centroidAndFluxOfIsolatedLines() {
        let t = 20.0
        let picks = isolatedLines(exposure: t, count: 6)
        #expect(picks.count >= 3)
        print("arc test: \(picks.count) isolated lines, fluxes \(picks.map { Int($0.fluxADUPerSecond * t) }) ADU")
        let frame = r.render(.arcSinglePinhole, exposureTime: t, seed: 5)
        let d = r.detector.truth
        let n = r.arm.size
        let half = 4
        for p in picks {
            let cx = Int(p.x.rounded()), cy = Int(p.y.rounded())
            var s = 0.0, sx = 0.0, sy = 0.0
            for y in (cy - half)...(cy + half) {
                for x in (cx - half)...(cx + half) {
                    let v = signalADU(frame, d, x, y)
                    s += v; sx += v * Double(x); sy += v * Double(y)
                }
            }
            let truePos = r.arm.position(order: p.order, wavelength: p.line.wavelength, slit: 0)
            #expect(abs(sx / s - truePos.x) < 0.05 && abs(sy / s - truePos.y) < 0.05,
                    "line \(p.line.wavelength) m\(p.order): (\(sx / s), \(sy / s)) vs \(truePos)")
            let truth = r.arm.lineFlux(p.line, order: p.order, exposureTime: t)
            #expect(abs(s / truth - 1) < 0.02, "flux \(s) vs \(truth)")
            #expect(abs(p.fluxADUPerSecond * t / truth - 1) < 1e-12)
            _ = n
        }
    }

    @Test func noiseFreeLineImagesSumExactly() {
        let t = 1.0
        let picks = isolatedLines(exposure: 20, count: 3)
        #expect(!picks.isEmpty)
        let sig = r.expectedSignal(.arcSinglePinhole, exposureTime: t)
        let n = r.arm.size
        for p in picks {
            var s = 0.0
            let cx = Int(p.x.rounded()), cy = Int(p.y.rounded())
            for y in (cy - 6)...(cy + 6) { for x in (cx - 6)...(cx + 6) { s += Double(sig[y * n + x]) } }
            #expect(abs(s / r.arm.lineFlux(p.line, order: p.order, exposureTime: t) - 1) < 2e-3)
        }
    }

    @Test func linesAppearInEveryOrderAndPinhole() {
        let arm = r.arm
        let pinholes = arm.model.slit.pinholePositionsArcsec
        // A line in the overlap of two adjacent orders is imaged in both.
        var found = false
        for (a, b) in zip(arm.orders, arm.orders.dropFirst()) {
            let ov = max(arm.wavelengthRange(order: a).lowerBound, arm.wavelengthRange(order: b).lowerBound)
                ... min(arm.wavelengthRange(order: a).upperBound, arm.wavelengthRange(order: b).upperBound)
            if let l = r.lines.first(where: { ov.contains($0.wavelength) && $0.relativeIntensity > 100 }) {
                let orders = Set(r.singlePinholeLines.filter { $0.line == l }.map(\.order))
                #expect(orders.contains(a) && orders.contains(b))
                let multi = r.multiPinholeLines.filter { $0.line == l && $0.order == a }
                #expect(Set(multi.map(\.slit)) == Set(pinholes))
                found = true
            }
        }
        #expect(found)
        #expect(r.multiPinholeLines.count > 5 * r.singlePinholeLines.count)
        // The full list renders far more line images than the bright subset.
        #expect(Fixture.blueRenderer1024.singlePinholeLines.count > 3 * r.singlePinholeLines.count)
    }
}

// MARK: - dark and cosmic rays

@Suite struct DarkTests {
    @Test func hotPixelsStandOutAndCosmicRaysOnlyWithExposure() {
        let n = 512
        let det = SimulatedDetector(model: Fixture.blue, size: n, seed: 8)
        let arm = SimulatedArm(model: Fixture.blue, size: n, nightSeed: 1)
        let r = FrameRenderer(arm: arm, detector: det, lines: [])
        let t = 600.0
        let dark = r.render(.dark, exposureTime: t, seed: 3)
        let d = det.truth
        #expect(!d.hotPixels.isEmpty)
        let crSet = Set(dark.cosmicRayScienceIndices)
        let noise = d.readNoiseADU
        for (k, i) in d.hotPixels.enumerated() where !crSet.contains(i) {
            let v = signalADU(dark, d, i % n, i / n)
            let expected = (Double(d.hotPixelRates[k]) + d.darkCurrentElectronsPerSecond) * t / d.gain
            #expect(v > 20 * noise)
            #expect(abs(v - expected) < 5 * (expected / d.gain).squareRoot() + 5 * noise)
        }
        for c in d.hotColumns {
            let col = (0..<n).map { signalADU(dark, d, c, $0) }
            #expect(median(col) > 0.5 * d.hotColumnElectronsPerSecond * t / d.gain)
        }
        // Ordinary pixels: dark current level.
        let normal = (0..<n).map { signalADU(dark, d, ($0 * 13 + 5) % n, $0) }
        #expect(abs(median(normal) - d.darkCurrentElectronsPerSecond * t / d.gain) < 1.0)
        // Cosmic rays.
        #expect(dark.cosmicRayPixels > 0 && dark.cosmicRayPixels == crSet.count)
        let crHigh = dark.cosmicRayScienceIndices.filter { signalADU(dark, d, $0 % n, $0 / n) > 100 }.count
        #expect(Double(crHigh) > 0.9 * Double(dark.cosmicRayPixels))
        #expect(r.render(.dark, exposureTime: 0, seed: 3).cosmicRayPixels == 0)
        #expect(r.render(.bias, exposureTime: 600, seed: 3).cosmicRayPixels == 0)
        #expect(r.render(.flat(lampScale: 1), exposureTime: 30, seed: 3).cosmicRayPixels > 0)
    }

    @Test func detectorIsFixedPerSeed() {
        let a = SimulatedDetector(model: Fixture.blue, size: 256, seed: 1)
        let b = SimulatedDetector(model: Fixture.blue, size: 256, seed: 1)
        let c = SimulatedDetector(model: Fixture.blue, size: 256, seed: 2)
        #expect(a.truth.prnu == b.truth.prnu && a.truth.hotPixels == b.truth.hotPixels)
        #expect(a.truth.prnu != c.truth.prnu)
        let cold = Set(a.truth.coldPixels)
        let good = a.truth.prnu.enumerated().filter { !cold.contains($0.offset) }.map { Double($0.element) }
        #expect(abs(std(good) / Fixture.blue.detector.prnuSigma - 1) < 0.05)
        for col in a.truth.coldColumns { #expect(cold.contains(100 * 256 + col)) }
    }
}

// MARK: - science and truth

@Suite struct ScienceAndTruthTests {
    @Test func scienceTraceWithAbsorption() {
        let r = Fixture.blueRenderer1024
        let arm = r.arm
        let sig = r.expectedSignal(.science, exposureTime: 900)
        let n = arm.size
        // Hβ (486.27 nm) sits in some order: the extracted flux dips there.
        guard let m = arm.orders.first(where: { arm.wavelengthRange(order: $0).contains(486.27)
            && abs(arm.position(order: $0, wavelength: 486.27, slit: 0).y - Double(n / 2)) < Double(n) * 0.4 }) else {
            Issue.record("no order holds Hβ"); return
        }
        func extracted(_ y: Int) -> Double {
            let c = Int(arm.centre(order: m, y: Double(y)).rounded())
            return (c - 8...c + 8).reduce(0.0) { $0 + Double(sig[y * n + $1]) }
        }
        let yl = Int(arm.position(order: m, wavelength: 486.27, slit: 0).y.rounded())
        #expect(extracted(yl) < 0.7 * extracted(yl + 40))
        let frame = r.render(.science, exposureTime: 900, seed: 2)
        #expect(frame.pixels.count == frame.width * frame.height)
    }

    @Test func truthSamplesAndFits() throws {
        let arm = Fixture.blueArm1024
        let t = arm.truth(sampleStep: 32)
        #expect(t.orders.map(\.order) == arm.orders)
        #expect(t.rows.first == 0 && t.rows.last == arm.size - 1)
        for o in t.orders {
            for (k, y) in t.rows.enumerated() {
                #expect(abs(o.centre[k] - arm.centre(order: o.order, y: Double(y))) < 1e-9)
                #expect(o.lowerEdgeDefault[k] < o.lowerEdgeHalf[k] && o.upperEdgeHalf[k] < o.upperEdgeDefault[k])
            }
            #expect(o.wavelengthMin < o.blazePeakWavelength && o.blazePeakWavelength < o.wavelengthMax)
        }
        #expect(t.centreFit.rmsResidual < 0.1)
        #expect(t.dispersionXFit.rmsResidual < 0.1 && t.dispersionYFit.rmsResidual < 0.1)
        let m = arm.orders[4], l = 0.5 * (t.orders[4].wavelengthMin + t.orders[4].wavelengthMax)
        let p = arm.position(order: m, wavelength: l, slit: 0)
        #expect(abs(t.dispersionYFit.evaluate(Double(m), l) - p.y) < 0.5)
        #expect(abs(t.centreFit.evaluate(Double(m), p.y) - p.x) < 0.5)
        let data = try JSONEncoder().encode(t)
        let back = try JSONDecoder().decode(ArmTruth.self, from: data)
        #expect(back.displacement == t.displacement)
    }

    @Test func householderSolvesExactSystem() {
        // y = 1 + 2a − 3b + 0.5ab sampled on a grid: recovered exactly.
        var a: [Double] = [], b: [Double] = [], v: [Double] = []
        for i in 0..<7 { for j in 0..<5 {
            let x = Double(i), y = Double(j) * 10
            a.append(x); b.append(y)
            let xs = (x - 3) / 3, ys = (y - 20) / 20
            v.append(1 + 2 * xs - 3 * ys + 0.5 * xs * ys)
        } }
        let p = Polynomial2D.fit(definition: "", names: ("a", "b"), a: a, b: b, value: v, degrees: (2, 2))
        #expect(abs(p.coefficients[0][0] - 1) < 1e-12 && abs(p.coefficients[1][0] - 2) < 1e-12)
        #expect(abs(p.coefficients[0][1] + 3) < 1e-12 && abs(p.coefficients[1][1] - 0.5) < 1e-12)
        #expect(p.rmsResidual < 1e-12)
    }
}
