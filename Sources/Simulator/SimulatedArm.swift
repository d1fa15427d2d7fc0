import Foundation
import Dispatch

/// The night-to-night displacement actually applied (truth). Applied in detector millimetres about the
/// detector centre after the nominal model: u' = (1+k)(cos θ u − sin θ v) + Δu + c η², v' = (1+k)(sin θ u + cos θ v) + Δv,
/// η = v / (physicalSize/2). Pixel values are given for the simulated `size`.
public struct NightDisplacement: Codable, Sendable, Equatable {
    /// Δu in pixels of the simulated size (positive = toward +x).
    public var shiftXPixels: Double
    /// Δv in pixels of the simulated size.
    public var shiftYPixels: Double
    /// θ in degrees (counter-clockwise in the (x, y) plane).
    public var rotationDegrees: Double
    /// k, fractional scale change.
    public var scaleChange: Double
    /// c in pixels of the simulated size: extra x-bowing of the orders at the detector ends (η = ±1).
    public var curvaturePixels: Double

    public init(shiftXPixels: Double, shiftYPixels: Double, rotationDegrees: Double, scaleChange: Double, curvaturePixels: Double) {
        self.shiftXPixels = shiftXPixels; self.shiftYPixels = shiftYPixels; self.rotationDegrees = rotationDegrees
        self.scaleChange = scaleChange; self.curvaturePixels = curvaturePixels
    }

    public static let identity = NightDisplacement(shiftXPixels: 0, shiftYPixels: 0, rotationDegrees: 0, scaleChange: 0, curvaturePixels: 0)
}

/// Per-order, per-row geometry and rates, precomputed once per arm (index = row).
struct OrderTable: Sendable {
    let order: Int
    /// x of the order centre (slit 0).
    let centre: [Double]
    /// x where the slit ends (−L/2, +L/2) cross this row: the top-hat edges of the flat.
    let slitLow: [Double]
    let slitHigh: [Double]
    /// Wavelength at the row (slit 0), nm, and |dλ/dy| in nm per pixel.
    let lambda: [Double]
    let dispersion: [Double]
    /// Flat plateau rate (e⁻/s per pixel, lampScale 1, PRNU 1).
    let flatRate: [Double]
    /// The same for the D2 flat lamp (empty when the arm has none).
    var d2FlatRate: [Double] = []
    /// Order-definition pinhole total rate across the row (e⁻/s).
    let orderDefinitionRate: [Double]
    /// Science point source total rate across the row (e⁻/s).
    let scienceRate: [Double]
}

/// One arm of the simulated spectrograph at a given binning on a given night.
public struct SimulatedArm: Sendable {
    public let model: EchelleArmModel
    /// Science-area side in pixels.
    public let size: Int
    /// nominalPixels / size (rounded).
    public let binning: Int
    /// Pixel pitch, millimetres.
    public let pixelPitch: Double
    /// Overscan columns of the raw frame at this binning (max(4, overscanColumns / binning)).
    public let overscanColumns: Int
    /// Gaussian PSF sigma and FWHM in pixels.
    public let psfSigma: Double
    public var psfFWHM: Double { psfSigma / SimMath.fwhmToSigma }
    /// Night displacement applied to obtain the true instrument.
    public let displacement: NightDisplacement
    /// Physical orders whose centre lies on the detector over ≥ 50% of the rows, ascending.
    public private(set) var orders: [Int]
    /// All orders that put any light on the detector (superset of `orders`), ascending.
    public private(set) var renderedOrders: [Int]

    public var rawWidth: Int { size + overscanColumns }
    public var height: Int { size }

    // Optics constants.
    private let grooveSpacingCosGamma: Double   // σ⁻¹ cos γ in nm
    private let grooveSpacing: Double           // σ⁻¹ in nm
    private let cosGamma: Double
    private let alpha: Double, sinAlpha: Double
    private let blaze: Double
    private let beta0: Double
    private let focal: Double
    private let halfSize: Double                // mm
    private let slitTiltCos: Double, slitTiltSin: Double
    private let xdRefDeflection: Double
    private let xdSign: Double
    // Night transform (mm).
    private let nightDu: Double, nightDv: Double, nightCos: Double, nightSin: Double, nightScale: Double, nightCurv: Double

    private(set) var tables: [OrderTable]
    private var tableIndex: [Int: Int]

    /// Flat normalisation etc. (for the truth).
    public private(set) var flatPeakElectronsPerSecond: Double

    /// Builds the arm for a night; the displacement is drawn uniformly within the model's limits from `nightSeed`.
    public init(model: EchelleArmModel, size: Int, nightSeed: UInt64) {
        // Each arm moves independently: the stream is keyed by the night seed and the arm name (FNV-1a).
        var nameHash: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in model.name.utf8 { nameHash = (nameHash ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        var rng = Xoshiro256StarStar(keys: nightSeed, 0x4E49_4748_54, nameHash)
        let lim = model.nightDisplacement
        let nominalPitch = model.detector.physicalSizeMillimetres / Double(model.detector.nominalPixels)
        let pitch = model.detector.physicalSizeMillimetres / Double(size)
        func u() -> Double { 2 * rng.uniform() - 1 }
        let d = NightDisplacement(
            shiftXPixels: u() * lim.maxShiftPixels * nominalPitch / pitch,
            shiftYPixels: u() * lim.maxShiftPixels * nominalPitch / pitch,
            rotationDegrees: u() * lim.maxRotationDegrees,
            scaleChange: u() * lim.maxScaleChange,
            curvaturePixels: u() * lim.maxCurvaturePixels * nominalPitch / pitch)
        self.init(model: model, size: size, displacement: d)
    }

    /// Builds the arm with an explicit displacement (`.identity` = the nominal instrument).
    public init(model: EchelleArmModel, size: Int, displacement: NightDisplacement) {
        precondition(size >= 16, "size too small")
        self.model = model
        self.size = size
        let det = model.detector
        self.binning = max(1, Int((Double(det.nominalPixels) / Double(size)).rounded()))
        self.pixelPitch = det.physicalSizeMillimetres / Double(size)
        self.overscanColumns = SimulatedArm.overscan(model: model, size: size)
        self.psfSigma = model.camera.psfFWHMMillimetres * SimMath.fwhmToSigma / pixelPitch
        self.displacement = displacement

        let e = model.echelle
        let deg = Double.pi / 180
        grooveSpacing = 1e6 / e.grooveDensityPerMillimetre
        cosGamma = cos(e.gammaDegrees * deg)
        grooveSpacingCosGamma = grooveSpacing * cosGamma
        blaze = e.blazeAngleDegrees * deg
        alpha = (e.blazeAngleDegrees + e.incidenceOffsetDegrees) * deg
        sinAlpha = sin(alpha)
        beta0 = (e.blazeAngleDegrees - e.incidenceOffsetDegrees) * deg
        focal = model.camera.focalLengthMillimetres
        halfSize = det.physicalSizeMillimetres / 2
        slitTiltCos = cos(model.slit.tiltDegrees * deg)
        slitTiltSin = sin(model.slit.tiltDegrees * deg)
        xdSign = (model.crossDisperser.kind.lowercased() == "grating" ? -1.0 : 1.0) * model.crossDisperser.direction
        xdRefDeflection = SimulatedArm.crossDisperserDeflection(model.crossDisperser, model.crossDisperser.referenceWavelengthNanometres, reference: 0)

        nightDu = displacement.shiftXPixels * pixelPitch
        nightDv = displacement.shiftYPixels * pixelPitch
        nightCos = cos(displacement.rotationDegrees * deg)
        nightSin = sin(displacement.rotationDegrees * deg)
        nightScale = 1 + displacement.scaleChange
        nightCurv = displacement.curvaturePixels * pixelPitch

        // Placeholder values so that instance methods can be used while building the tables.
        tables = []; tableIndex = [:]; orders = []; renderedOrders = []; flatPeakElectronsPerSecond = 0

        // Candidate orders: those putting any light on the detector.
        let sigma = psfSigma
        let n = size
        var rendered: [Int] = []
        var listed: [Int] = []
        let probeRows = stride(from: 0, to: n, by: max(1, n / 64)).map { $0 } + [n - 1]
        for m in e.minimumOrder...e.maximumOrder {
            var onCount = 0, touches = false
            for y in probeRows {
                let lam = wavelength(order: m, y: Double(y), slit: 0)
                let c = position(order: m, wavelength: lam, slit: 0).x
                if c >= -0.5 && c <= Double(n) - 0.5 { onCount += 1 }
                let lo = slitEdgeX(order: m, y: Double(y), slit: -model.slit.lengthArcsec / 2)
                let hi = slitEdgeX(order: m, y: Double(y), slit: model.slit.lengthArcsec / 2)
                if min(lo, hi) - 8 * sigma < Double(n) && max(lo, hi) + 8 * sigma > -1 { touches = true }
            }
            if touches { rendered.append(m) }
            if Double(onCount) >= 0.5 * Double(probeRows.count) { listed.append(m) }
        }

        // Per-row tables, orders in parallel.
        let halfSlit = model.slit.lengthArcsec / 2
        var built = [OrderTable?](repeating: nil, count: rendered.count)
        let selfCopy = self
        let renderedCopy = rendered
        built.withUnsafeMutableBufferPointer { out in
            let box = UnsafeSendable(out.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: renderedCopy.count) { k in
                let outBase = box.value
                let m = renderedCopy[k]
                var centre = [Double](repeating: 0, count: n), lo = centre, hi = centre, lam = centre, disp = centre
                for y in 0..<n {
                    let yd = Double(y)
                    let l0 = selfCopy.wavelength(order: m, y: yd, slit: 0)
                    lam[y] = l0
                    centre[y] = selfCopy.position(order: m, wavelength: l0, slit: 0).x
                    let a = selfCopy.slitEdgeX(order: m, y: yd, slit: -halfSlit)
                    let b = selfCopy.slitEdgeX(order: m, y: yd, slit: halfSlit)
                    lo[y] = min(a, b); hi[y] = max(a, b)
                    let lp = selfCopy.wavelength(order: m, y: yd + 0.5, slit: 0)
                    let lm = selfCopy.wavelength(order: m, y: yd - 0.5, slit: 0)
                    disp[y] = abs(lp - lm)
                }
                outBase[k] = OrderTable(order: m, centre: centre, slitLow: lo, slitHigh: hi, lambda: lam, dispersion: disp,
                                        flatRate: [], orderDefinitionRate: [], scienceRate: [])
            }
        }
        var geo = built.map { $0! }

        // Spectral rates and their normalisation (peak targets at the reference exposure).
        let gain = det.gainElectronsPerADU
        let thr = model.throughput
        func throughputAt(_ l: Double) -> Double {
            let z = (l - thr.peakWavelengthNanometres) / thr.widthNanometres
            return thr.peak * exp(-0.5 * z * z)
        }
        let sci = model.science
        let sciSigma = SimulatedArm.scienceSigma(model: model, pitch: pixelPitch, psfSigma: sigma)
        let gaussPeakPSF = SimMath.gaussianFraction(-0.5, 0.5, centre: 0, sigma: sigma)
        let gaussPeakSci = SimMath.gaussianFraction(-0.5, 0.5, centre: 0, sigma: sciSigma)
        var rawFlat: [[Double]] = [], rawOD: [[Double]] = [], rawSci: [[Double]] = [], rawD2: [[Double]] = []
        var maxFlat = 0.0, maxOD = 0.0, maxSci = 0.0, maxD2 = 0.0
        for t in geo {
            var f = [Double](repeating: 0, count: n), o = f, s = f, d = model.d2FlatLamp == nil ? [] : f
            let isListed = listed.contains(t.order)
            for y in 0..<n {
                let l = t.lambda[y]
                let common = selfCopy.blazeEfficiency(order: t.order, wavelength: l) * throughputAt(l) * t.dispersion[y]
                f[y] = common * model.flatLamp.spectrum(l)
                if let d2 = model.d2FlatLamp { d[y] = common * d2.spectrum(l) }
                o[y] = common * SimMath.planck(l, temperature: model.orderDefinitionLamp.temperatureKelvin)
                var star = common * SimMath.planck(l, temperature: sci.temperatureKelvin)
                for a in sci.absorptionLines {
                    let z = (l - a.wavelengthNanometres) / a.sigmaNanometres
                    if abs(z) < 8 { star *= 1 - a.depth * exp(-0.5 * z * z) }
                }
                s[y] = star
                if isListed {
                    let plateau = SimMath.boxedTopHat(0.5 * (t.slitLow[y] + t.slitHigh[y]), lo: t.slitLow[y], hi: t.slitHigh[y], sigma: sigma)
                    maxFlat = max(maxFlat, f[y] * plateau)
                    if !d.isEmpty { maxD2 = max(maxD2, d[y] * plateau) }
                    maxOD = max(maxOD, o[y] * gaussPeakPSF)
                    maxSci = max(maxSci, s[y] * gaussPeakSci)
                }
            }
            rawFlat.append(f); rawOD.append(o); rawSci.append(s); rawD2.append(d)
        }
        let flatNorm = maxFlat > 0 ? model.flatLamp.peakCountsADU * gain / model.flatLamp.referenceExposureSeconds / maxFlat : 0
        let odNorm = maxOD > 0 ? model.orderDefinitionLamp.peakCountsADU * gain / model.orderDefinitionLamp.referenceExposureSeconds / maxOD : 0
        let sciNorm = maxSci > 0 ? sci.peakCountsADU * gain / sci.referenceExposureSeconds / maxSci : 0
        let d2Norm = model.d2FlatLamp.map { maxD2 > 0 ? $0.peakCountsADU * gain / $0.referenceExposureSeconds / maxD2 : 0 } ?? 0
        for k in geo.indices {
            let t = geo[k]
            geo[k] = OrderTable(order: t.order, centre: t.centre, slitLow: t.slitLow, slitHigh: t.slitHigh, lambda: t.lambda,
                                dispersion: t.dispersion, flatRate: rawFlat[k].map { $0 * flatNorm },
                                orderDefinitionRate: rawOD[k].map { $0 * odNorm }, scienceRate: rawSci[k].map { $0 * sciNorm })
            geo[k].d2FlatRate = rawD2[k].map { $0 * d2Norm }
        }
        tables = geo
        var idx: [Int: Int] = [:]
        for (k, t) in geo.enumerated() { idx[t.order] = k }
        tableIndex = idx
        orders = listed
        renderedOrders = rendered
        flatPeakElectronsPerSecond = model.flatLamp.peakCountsADU * gain / model.flatLamp.referenceExposureSeconds
    }

    static func overscan(model: EchelleArmModel, size: Int) -> Int {
        let b = max(1, Int((Double(model.detector.nominalPixels) / Double(size)).rounded()))
        return max(4, model.detector.overscanColumns / b)
    }

    static func scienceSigma(model: EchelleArmModel, pitch: Double, psfSigma: Double) -> Double {
        let seeing = model.science.seeingFWHMArcsec * SimMath.fwhmToSigma / model.slit.plateScaleArcsecPerMillimetre / pitch
        return (psfSigma * psfSigma + seeing * seeing).squareRoot()
    }

    /// Cross-disperser deflection δ(λ) in radians relative to `reference`.
    static func crossDisperserDeflection(_ xd: CrossDisperserModel, _ lambda: Double, reference: Double) -> Double {
        if xd.kind == "grating" || xd.kind == "GRATING" || xd.kind == "Grating" {
            let g = xd.grooveDensityPerMillimetre * 1e-6
            return asin(max(-1, min(1, lambda * g))) - reference
        }
        let nIndex = xd.cauchyA + xd.cauchyBNanometres2 / (lambda * lambda)
        return xd.angularFactor * nIndex - reference
    }

    // MARK: - Geometry

    /// Detector-plane position (mm) of the nominal instrument.
    @inline(__always)
    private func nominalMM(order m: Int, wavelength lambda: Double, slit s: Double) -> (u: Double, v: Double) {
        let sinBeta = max(-1, min(1, Double(m) * lambda / grooveSpacingCosGamma - sinAlpha))
        let beta = asin(sinBeta)
        var v = focal * tan(beta - beta0)
        // Prism: δ ∝ n(λ) − n(λ_ref) > 0 for blue; grating: δ > 0 for red. `xdSign` makes blue go to +x for direction +1.
        let delta = SimulatedArm.crossDisperserDeflection(model.crossDisperser, lambda, reference: xdRefDeflection)
        var u = xdSign * focal * tan(delta)
        let us = s / model.slit.plateScaleArcsecPerMillimetre
        u += us * slitTiltCos
        v += us * slitTiltSin
        let xi = u / halfSize, eta = v / halfSize
        var du = 0.0, dv = 0.0
        for t in model.distortion {
            let p = ipow(xi, t.xPower) * ipow(eta, t.yPower)
            du += t.dxMillimetres * p
            dv += t.dyMillimetres * p
        }
        return (u + du, v + dv)
    }

    @inline(__always)
    private func ipow(_ x: Double, _ n: Int) -> Double {
        var r = 1.0
        var k = 0
        while k < n { r *= x; k += 1 }
        return r
    }

    @inline(__always)
    private func toPixels(_ p: (u: Double, v: Double)) -> (x: Double, y: Double) {
        let c = 0.5 * Double(size - 1)
        return (p.u / pixelPitch + c, p.v / pixelPitch + c)
    }

    @inline(__always)
    private func applyNight(_ p: (u: Double, v: Double)) -> (u: Double, v: Double) {
        let eta = p.v / halfSize
        let u = nightScale * (nightCos * p.u - nightSin * p.v) + nightDu + nightCurv * eta * eta
        let v = nightScale * (nightSin * p.u + nightCos * p.v) + nightDv
        return (u, v)
    }

    /// True position (pixels) of wavelength λ (nm) of order `order` at slit position `slit` (arcsec) on this night.
    public func position(order: Int, wavelength: Double, slit: Double) -> (x: Double, y: Double) {
        toPixels(applyNight(nominalMM(order: order, wavelength: wavelength, slit: slit)))
    }

    /// Position predicted by the static (nominal) model, without the night displacement.
    public func nominalPosition(order: Int, wavelength: Double, slit: Double) -> (x: Double, y: Double) {
        toPixels(nominalMM(order: order, wavelength: wavelength, slit: slit))
    }

    /// Wavelength (nm) whose image at slit position `slit` lands on row y of the true instrument
    /// (Newton iteration on `position(...).y`, converged to < 1e-9 px).
    public func wavelength(order: Int, y: Double, slit: Double) -> Double {
        solveWavelength(order: order, y: y, slit: slit, nominal: false)
    }

    /// Same as `wavelength(order:y:slit:)` for the nominal instrument.
    public func nominalWavelength(order: Int, y: Double, slit: Double) -> Double {
        solveWavelength(order: order, y: y, slit: slit, nominal: true)
    }

    private func solveWavelength(order m: Int, y: Double, slit: Double, nominal: Bool) -> Double {
        let c = 0.5 * Double(size - 1)
        let v = (y - c) * pixelPitch
        let beta = beta0 + atan(v / focal)
        var lam = grooveSpacingCosGamma * (sinAlpha + sin(beta)) / Double(m)
        func yOf(_ l: Double) -> Double {
            nominal ? nominalPosition(order: m, wavelength: l, slit: slit).y : position(order: m, wavelength: l, slit: slit).y
        }
        let h = lam * 1e-7
        for _ in 0..<30 {
            let f = yOf(lam) - y
            if abs(f) < 1e-10 { break }
            let dydl = (yOf(lam + h) - yOf(lam - h)) / (2 * h)
            if dydl == 0 || !dydl.isFinite { break }
            var step = f / dydl
            let cap = 0.05 * lam
            if abs(step) > cap { step = step > 0 ? cap : -cap }
            lam -= step
        }
        return lam
    }

    /// x at row y of the image of slit position s (the slit end traces for ±L/2).
    func slitEdgeX(order: Int, y: Double, slit s: Double) -> Double {
        let l = wavelength(order: order, y: y, slit: s)
        return position(order: order, wavelength: l, slit: s).x
    }

    /// Wavelength range of the order on the detector (slit 0, rows −0.5 … size − 0.5).
    public func wavelengthRange(order: Int) -> ClosedRange<Double> {
        let a = wavelength(order: order, y: -0.5, slit: 0)
        let b = wavelength(order: order, y: Double(size) - 0.5, slit: 0)
        return min(a, b)...max(a, b)
    }

    /// x of the order centre (slit 0) at row y (true instrument).
    public func centre(order: Int, y: Double) -> Double {
        position(order: order, wavelength: wavelength(order: order, y: y, slit: 0), slit: 0).x
    }

    /// Top-hat edges (x where the slit ends cross row y), before the PSF.
    public func slitImageEdges(order: Int, y: Double) -> (lower: Double, upper: Double) {
        let a = slitEdgeX(order: order, y: y, slit: -model.slit.lengthArcsec / 2)
        let b = slitEdgeX(order: order, y: y, slit: model.slit.lengthArcsec / 2)
        return (min(a, b), max(a, b))
    }

    /// x where the noise-free, PRNU-free flat's cross profile at row y falls to `fraction` × its central
    /// value. The profile is the pixel-integrated (1-px box) top-hat ⊗ Gaussian PSF, i.e. exactly what a
    /// rendered flat pixel centred at that x would hold; central value = its value at the slit-image midpoint.
    public func edges(order: Int, y: Double, fraction: Double) -> (lower: Double, upper: Double) {
        let (lo, hi) = slitImageEdges(order: order, y: y)
        return SimulatedArm.profileEdges(lo: lo, hi: hi, sigma: psfSigma, fraction: fraction)
    }

    static func profileEdges(lo: Double, hi: Double, sigma: Double, fraction: Double) -> (lower: Double, upper: Double) {
        let mid = 0.5 * (lo + hi)
        let target = fraction * SimMath.boxedTopHat(mid, lo: lo, hi: hi, sigma: sigma)
        func solve(_ inner: Double, _ outer: Double) -> Double {
            var a = inner, b = outer     // profile(a) ≥ target > profile(b)
            for _ in 0..<80 {
                let m = 0.5 * (a + b)
                if SimMath.boxedTopHat(m, lo: lo, hi: hi, sigma: sigma) >= target { a = m } else { b = m }
            }
            return 0.5 * (a + b)
        }
        let reach = 12 * sigma + 2
        return (solve(mid, lo - reach), solve(mid, hi + reach))
    }

    /// Echelle blaze efficiency: the single-facet (single-slit) diffraction envelope
    /// B = sinc²(πν), ν = (σ⁻¹ cos γ cos θ_B / λ) [sin(α − θ_B) + sin(β − θ_B)]
    /// (Schroeder, *Astronomical Optics*, 2nd ed., Academic Press 2000, §13.2 and §15.1).
    /// B = 1 at the blaze direction β = 2θ_B − α; it drops to ≈ 0.4 at the free-spectral-range ends.
    public func blazeEfficiency(order: Int, wavelength lambda: Double) -> Double {
        let sinBeta = Double(order) * lambda / grooveSpacingCosGamma - sinAlpha
        guard abs(sinBeta) <= 1 else { return 0 }
        let beta = asin(sinBeta)
        let nu = grooveSpacingCosGamma * cos(blaze) / lambda * (sin(alpha - blaze) + sin(beta - blaze))
        return SimMath.sinc2(nu)
    }

    /// Wavelength of the blaze peak of an order (ν = 0, i.e. β = 2θ_B − α), nm.
    public func blazePeakWavelength(order: Int) -> Double {
        grooveSpacingCosGamma * (sinAlpha + sin(beta0)) / Double(order)
    }

    /// Throughput (excluding blaze) at λ.
    public func throughput(wavelength lambda: Double) -> Double {
        let t = model.throughput
        let z = (lambda - t.peakWavelengthNanometres) / t.widthNanometres
        return t.peak * exp(-0.5 * z * z)
    }

    func table(_ order: Int) -> OrderTable? { tableIndex[order].map { tables[$0] } }

    /// Noise-free flat flux (ADU above bias, PRNU = 1, lampScale 1) summed across the order at row y —
    /// exactly the sum over all x of the rendered noise-free flat pixels of this order (top-hat area).
    public func flatExtractedFlux(order: Int, y: Int, exposureTime: Double) -> Double {
        guard let t = table(order), y >= 0, y < size else { return 0 }
        return t.flatRate[y] * (t.slitHigh[y] - t.slitLow[y]) * exposureTime / model.detector.gainElectronsPerADU
    }

    /// The same for the D2 flat lamp (0 when the arm has none).
    public func d2FlatExtractedFlux(order: Int, y: Int, exposureTime: Double) -> Double {
        guard let t = table(order), y >= 0, y < size, !t.d2FlatRate.isEmpty else { return 0 }
        return t.d2FlatRate[y] * (t.slitHigh[y] - t.slitLow[y]) * exposureTime / model.detector.gainElectronsPerADU
    }

    /// Total noise-free ADU of one line image per pinhole *before the blaze* (blaze efficiency 1):
    /// scale × amplitude × throughput(λ) × t / gain. Multiply by `blazeEfficiency` for a given order,
    /// or use `lineFlux(_:order:exposureTime:)`.
    public func lineFlux(_ line: ArcLine, exposureTime: Double) -> Double {
        model.arcLamp.electronsPerSecondPerUnitAmplitude * line.relativeIntensity * throughput(wavelength: line.wavelength)
            * exposureTime / model.detector.gainElectronsPerADU
    }

    /// Total noise-free ADU of one line image per pinhole in a given order (includes the blaze); this is
    /// the sum over all pixels of the rendered noise-free, PRNU-free line image.
    public func lineFlux(_ line: ArcLine, order: Int, exposureTime: Double) -> Double {
        lineFlux(line, exposureTime: exposureTime) * blazeEfficiency(order: order, wavelength: line.wavelength)
    }

    /// Gaussian sigma (px) of the science point-source cross profile (seeing ⊗ PSF).
    public var scienceProfileSigma: Double { SimulatedArm.scienceSigma(model: model, pitch: pixelPitch, psfSigma: psfSigma) }
}
