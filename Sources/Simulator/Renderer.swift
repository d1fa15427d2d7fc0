import Foundation
import Dispatch

/// What to expose.
public enum ExposureKind: Sendable, Equatable {
    /// Zero-second readout (exposure time ignored).
    case bias
    /// Shutter closed: dark current, hot pixels, cosmic rays.
    case dark
    /// Continuum lamp through the full slit; `lampScale` 1 = nominal lamp, 0 = lamp off.
    case flat(lampScale: Double)
    /// The arm's D2 flat lamp (`EchelleArmModel.d2FlatLamp`) through the full slit; nothing if the arm has none.
    case d2Flat(lampScale: Double)
    /// Continuum lamp through the single central pinhole (s = 0).
    case orderDefinition
    /// ThAr through the single central pinhole (s = 0).
    case arcSinglePinhole
    /// ThAr through every pinhole of the multi-pinhole mask.
    case arcMultiPinhole
    /// Point source (star with absorption lines) centred on the slit.
    case science

    var code: UInt64 {
        switch self {
        case .bias: return 1
        case .dark: return 2
        case .flat: return 3
        case .orderDefinition: return 4
        case .arcSinglePinhole: return 5
        case .arcMultiPinhole: return 6
        case .science: return 7
        case .d2Flat: return 8
        }
    }
}

/// A raw readout: `width = size + overscan` columns, `height = size` rows, row-major UInt16 ADU.
public struct RawFrame: Sendable {
    public let width: Int
    public let height: Int
    public var pixels: [UInt16]
    /// Number of distinct science-area pixels hit by cosmic rays.
    public let cosmicRayPixels: Int
    /// Those pixels as science-area indices (y * size + x), sorted.
    public let cosmicRayScienceIndices: [Int]
}

/// Truth for one rendered arc line image.
public struct ArcLineImage: Sendable, Codable {
    public let line: ArcLine
    public let order: Int
    /// Slit position (arcsec) of the pinhole.
    public let slit: Double
    /// True centre (pixels).
    public let x: Double
    public let y: Double
    /// Noise-free total ADU per second of exposure (PRNU = 1).
    public let fluxADUPerSecond: Double
}

struct LineImage: Sendable {
    let x: Double
    let y: Double
    let rate: Double   // e⁻/s
}

/// Renders raw frames for one arm + detector. Deterministic for a seed whatever the thread count:
/// every row uses its own xoshiro256** stream keyed by (seed, kind, row).
public struct FrameRenderer: Sendable {
    public let arm: SimulatedArm
    public let detector: SimulatedDetector
    public let lines: [ArcLine]
    /// Arc line images (truth), sorted by y.
    public let singlePinholeLines: [ArcLineImage]
    public let multiPinholeLines: [ArcLineImage]
    private let singleImages: [LineImage]
    private let multiImages: [LineImage]
    /// Scattered light of a flat at lamp scale 1 is scatterRow[y] · scatterColumn[x] e⁻/s
    /// (see `ScatteredLightModel`); both empty when the model has none.
    private let scatterRow: [Double]
    private let scatterColumn: [Double]
    /// Rows processed per parallel work item.
    private let band = 16

    public init(arm: SimulatedArm, detector: SimulatedDetector, lines: [ArcLine]) {
        precondition(detector.truth.size == arm.size, "detector and arm sizes differ")
        self.arm = arm
        self.detector = detector
        let minAmp = arm.model.arcLamp.minimumRelativeIntensity
        self.lines = lines.filter { $0.relativeIntensity >= minAmp }.sorted { $0.wavelength < $1.wavelength }
        let sortedLines = self.lines
        let n = Double(arm.size)
        let reach = 7 * arm.psfSigma + 2
        var single: [ArcLineImage] = [], multi: [ArcLineImage] = []
        let pinholes = arm.model.slit.pinholePositionsArcsec
        let gain = arm.model.detector.gainElectronsPerADU
        for m in arm.renderedOrders {
            let a = arm.wavelength(order: m, y: -reach, slit: 0)
            let b = arm.wavelength(order: m, y: n - 1 + reach, slit: 0)
            let lo = min(a, b) * 0.999, hi = max(a, b) * 1.001
            var i = FrameRenderer.lowerBound(sortedLines, lo)
            while i < sortedLines.count && sortedLines[i].wavelength <= hi {
                let line = sortedLines[i]
                i += 1
                let adu = arm.lineFlux(line, order: m, exposureTime: 1)
                if adu <= 0 { continue }
                for (k, s) in ([0.0] + pinholes).enumerated() {
                    let p = arm.position(order: m, wavelength: line.wavelength, slit: s)
                    guard p.x > -reach, p.x < n - 1 + reach, p.y > -reach, p.y < n - 1 + reach else { continue }
                    let img = ArcLineImage(line: line, order: m, slit: s, x: p.x, y: p.y, fluxADUPerSecond: adu)
                    if k == 0 { single.append(img) } else { multi.append(img) }
                }
            }
        }
        single.sort { $0.y < $1.y }
        multi.sort { $0.y < $1.y }
        singlePinholeLines = single
        multiPinholeLines = multi
        singleImages = single.map { LineImage(x: $0.x, y: $0.y, rate: $0.fluxADUPerSecond * gain) }
        multiImages = multi.map { LineImage(x: $0.x, y: $0.y, rate: $0.fluxADUPerSecond * gain) }
        if let scatter = arm.model.scatteredLight, scatter.fraction > 0 {
            // The row's mean order plateau level: the orders' light over their summed slit widths.
            var light = [Double](repeating: 0, count: arm.size), widths = light
            for t in arm.tables {
                for y in 0..<arm.size {
                    light[y] += t.flatRate[y] * (t.slitHigh[y] - t.slitLow[y]); widths[y] += t.slitHigh[y] - t.slitLow[y]
                }
            }
            scatterRow = scatter.rowRates(meanOrderLevel: (0..<arm.size).map { widths[$0] > 0 ? light[$0] / widths[$0] : 0 })
            scatterColumn = scatter.envelopeX(size: arm.size)
        } else {
            scatterRow = []; scatterColumn = []
        }
    }

    /// Noise-free scattered light of an exposure (ADU per pixel, PRNU 1, science area,
    /// row-major); zero except for flats of a model with `scatteredLight`. It is part
    /// of `expectedSignal` and of the rendered frames.
    public func scatteredLight(_ kind: ExposureKind, exposureTime: Double) -> [Float] {
        let n = arm.size
        guard case .flat(let lampScale) = kind, !scatterRow.isEmpty else { return [Float](repeating: 0, count: n * n) }
        let k = lampScale * exposureTime / detector.truth.gain
        var out = [Float](repeating: 0, count: n * n)
        for y in 0..<n { for x in 0..<n { out[y * n + x] = Float(scatterRow[y] * scatterColumn[x] * k) } }
        return out
    }

    static func lowerBound(_ a: [ArcLine], _ w: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid].wavelength < w { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    static func lowerBoundY(_ a: [LineImage], _ y: Double) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid].y < y { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    // MARK: - Noise-free signal

    /// Fills `rows` rows starting at y0 with the signal rate (e⁻/s per pixel, before PRNU) of `kind`.
    private func fillSignal(_ kind: ExposureKind, y0: Int, rows: Int, into buf: UnsafeMutablePointer<Double>,
                            scratch: UnsafeMutablePointer<Double>) {
        let n = arm.size
        buf.initialize(repeating: 0, count: rows * n)
        let sigma = arm.psfSigma
        switch kind {
        case .bias, .dark:
            return
        case .flat(let lampScale), .d2Flat(let lampScale):
            if lampScale == 0 { return }
            let d2: Bool = if case .d2Flat = kind { true } else { false }
            for t in arm.tables {
                if d2 && t.d2FlatRate.isEmpty { continue }
                t.slitLow.withUnsafeBufferPointer { lowP in
                t.slitHigh.withUnsafeBufferPointer { highP in
                (d2 ? t.d2FlatRate : t.flatRate).withUnsafeBufferPointer { rateP in
                    for r in 0..<rows {
                        let y = y0 + r
                        let lo = lowP[y], hi = highP[y]
                        let f = rateP[y] * lampScale
                        let xa = max(0, Int((lo - 9 * sigma - 1).rounded(.down)))
                        let xb = min(n - 1, Int((hi + 9 * sigma + 1).rounded(.up)))
                        if xa > xb || f == 0 { continue }
                        let row = buf + r * n
                        let inv = 1 / sigma
                        var gLoPrev = SimMath.phiIntegral((Double(xa) - 0.5 - lo) * inv)
                        var gHiPrev = SimMath.phiIntegral((Double(xa) - 0.5 - hi) * inv)
                        let fs = f * sigma
                        for x in xa...xb {
                            let xb2 = Double(x) + 0.5
                            let gLo = SimMath.phiIntegral((xb2 - lo) * inv)
                            let gHi = SimMath.phiIntegral((xb2 - hi) * inv)
                            row[x] += fs * ((gLo - gLoPrev) - (gHi - gHiPrev))
                            gLoPrev = gLo; gHiPrev = gHi
                        }
                    }
                }}}
            }
            if !d2 && !scatterRow.isEmpty {   // the QTH flat's halo; D2 flats are rendered without
                for r in 0..<rows {
                    let row = buf + r * n, f = scatterRow[y0 + r] * lampScale
                    for x in 0..<n { row[x] += f * scatterColumn[x] }
                }
            }
        case .orderDefinition, .science:
            let s = kind == .science ? arm.scienceProfileSigma : sigma
            for t in arm.tables {
                let rates = kind == .science ? t.scienceRate : t.orderDefinitionRate
                t.centre.withUnsafeBufferPointer { cP in
                rates.withUnsafeBufferPointer { rP in
                    for r in 0..<rows {
                        let y = y0 + r
                        let c = cP[y], f = rP[y]
                        let xa = max(0, Int((c - 8 * s - 1).rounded(.down)))
                        let xb = min(n - 1, Int((c + 8 * s + 1).rounded(.up)))
                        if xa > xb || f == 0 { continue }
                        let row = buf + r * n
                        let inv = 1 / s
                        var prev = SimMath.phi((Double(xa) - 0.5 - c) * inv)
                        for x in xa...xb {
                            let next = SimMath.phi((Double(x) + 0.5 - c) * inv)
                            row[x] += f * (next - prev)
                            prev = next
                        }
                    }
                }}
            }
        case .arcSinglePinhole, .arcMultiPinhole:
            let images = kind == .arcSinglePinhole ? singleImages : multiImages
            let reach = 7 * sigma + 1
            let inv = 1 / sigma
            let yLast = y0 + rows - 1
            var i = FrameRenderer.lowerBoundY(images, Double(y0) - reach)
            while i < images.count && images[i].y <= Double(yLast) + reach {
                let li = images[i]
                i += 1
                let xa = max(0, Int((li.x - reach).rounded(.down)))
                let xb = min(n - 1, Int((li.x + reach).rounded(.up)))
                let ya = max(y0, Int((li.y - reach).rounded(.down)))
                let yb = min(yLast, Int((li.y + reach).rounded(.up)))
                if xa > xb || ya > yb { continue }
                var prev = SimMath.phi((Double(xa) - 0.5 - li.x) * inv)
                for x in xa...xb {
                    let next = SimMath.phi((Double(x) + 0.5 - li.x) * inv)
                    scratch[x - xa] = next - prev
                    prev = next
                }
                var prevY = SimMath.phi((Double(ya) - 0.5 - li.y) * inv)
                for y in ya...yb {
                    let nextY = SimMath.phi((Double(y) + 0.5 - li.y) * inv)
                    let gy = (nextY - prevY) * li.rate
                    prevY = nextY
                    let row = buf + (y - y0) * n
                    for x in xa...xb { row[x] += gy * scratch[x - xa] }
                }
            }
        }
    }

    /// Noise-free signal image (ADU above bias, science area, no dark current or cosmic rays);
    /// with `applyPRNU` false it is exactly the model the truth functions integrate.
    public func expectedSignal(_ kind: ExposureKind, exposureTime: Double, applyPRNU: Bool = false) -> [Float] {
        let n = arm.size
        var out = [Float](repeating: 0, count: n * n)
        let g = detector.truth.gain
        let bands = (n + band - 1) / band
        let bandRows = band
        out.withUnsafeMutableBufferPointer { ob in
            let obox = UnsafeSendable(ob.baseAddress!)
            detector.truth.prnu.withUnsafeBufferPointer { pp in
                let pbox = UnsafeSendable(pp.baseAddress!)
                DispatchQueue.concurrentPerform(iterations: bands) { b in
                    let obase = obox.value, prnu = pbox.value
                    let y0 = b * bandRows
                    let rows = min(bandRows, n - y0)
                    let buf = UnsafeMutablePointer<Double>.allocate(capacity: rows * n)
                    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: n + 64)
                    defer { buf.deallocate(); scratch.deallocate() }
                    fillSignal(kind, y0: y0, rows: rows, into: buf, scratch: scratch)
                    let k = exposureTime / g
                    for i in 0..<(rows * n) {
                        let p = applyPRNU ? Double(prnu[y0 * n + i]) : 1
                        obase[y0 * n + i] = Float(buf[i] * k * p)
                    }
                }
            }
        }
        return out
    }

    // MARK: - Raw frames

    /// Renders a raw frame. Exposure time in seconds (ignored for `.bias`). Frames with t > 0 get cosmic rays.
    public func render(_ kind: ExposureKind, exposureTime: Double, seed: UInt64) -> RawFrame {
        let n = arm.size
        let truth = detector.truth
        let width = n + truth.overscanColumns
        let t: Double = kind == .bias ? 0 : max(0, exposureTime)
        let gain = truth.gain
        let invGain = 1 / gain
        let rnADU = truth.readNoiseADU
        let rn2 = rnADU * rnADU
        let bias = truth.biasLevelADU
        let sat = truth.saturationADU
        let darkBase = truth.darkCurrentElectronsPerSecond

        // Cosmic rays (electrons deposited), grouped by row.
        var crByRow: [Int: [(x: Int, e: Double)]] = [:]
        var crIndices: [Int] = []
        if t > 0 && detector.model.cosmicRayRatePerCm2PerSecond > 0 {
            var rng = Xoshiro256StarStar(keys: seed, kind.code, 0x434F_534D_4943)
            let areaCm2 = pow(arm.model.detector.physicalSizeMillimetres / 10, 2)
            let count = Int(rng.poisson(detector.model.cosmicRayRatePerCm2PerSecond * areaCm2 * t))
            var deposit: [Int: Double] = [:]
            for _ in 0..<count {
                let x0 = rng.uniform() * Double(n), y0 = rng.uniform() * Double(n)
                let len = 1 + Int(rng.next() % 4)
                let ang = 2 * Double.pi * rng.uniform()
                let (ca, sa) = (cos(ang), sin(ang))
                for i in 0..<len {
                    let x = Int((x0 + Double(i) * ca).rounded(.down)), y = Int((y0 + Double(i) * sa).rounded(.down))
                    guard x >= 0, x < n, y >= 0, y < n else { continue }
                    let e = detector.model.cosmicRayElectronsPerPixel * (0.2 - 0.8 * log(rng.uniformOpenZero()))
                    deposit[y * n + x, default: 0] += e
                }
            }
            crIndices = deposit.keys.sorted()
            for idx in crIndices { crByRow[idx / n, default: []].append((idx % n, deposit[idx]!)) }
        }

        let crRows = crByRow
        var pixels = [UInt16](repeating: 0, count: width * n)
        let bands = (n + band - 1) / band
        let bandRows = band
        let hot = truth.hotPixels, hotRates = truth.hotPixelRates
        pixels.withUnsafeMutableBufferPointer { pb in
            let pbox = UnsafeSendable(pb.baseAddress!)
            truth.prnu.withUnsafeBufferPointer { pp in
            truth.biasPattern.withUnsafeBufferPointer { bp in
            detector.columnDark.withUnsafeBufferPointer { cdp in
                let box = UnsafeSendable((pp.baseAddress!, bp.baseAddress!, cdp.baseAddress!))
                DispatchQueue.concurrentPerform(iterations: bands) { b in
                    let (prnu, pattern, colDark) = box.value
                    let pbase = pbox.value
                    let y0 = b * bandRows
                    let rows = min(bandRows, n - y0)
                    let buf = UnsafeMutablePointer<Double>.allocate(capacity: rows * n)
                    let scratch = UnsafeMutablePointer<Double>.allocate(capacity: n + 64)
                    let dark = UnsafeMutablePointer<Double>.allocate(capacity: n)
                    let extra = UnsafeMutablePointer<Double>.allocate(capacity: n)
                    defer { buf.deallocate(); scratch.deallocate(); dark.deallocate(); extra.deallocate() }
                    fillSignal(kind, y0: y0, rows: rows, into: buf, scratch: scratch)
                    for r in 0..<rows {
                        let y = y0 + r
                        var rng = Xoshiro256StarStar(keys: seed, kind.code, UInt64(y), 0x524F_57)
                        // Dark rate row (base + hot columns + hot pixels) and cosmic-ray charge row.
                        for x in 0..<n { dark[x] = darkBase + colDark[x]; extra[x] = 0 }
                        var h = FrameRenderer.lowerBoundInt(hot, y * n)
                        while h < hot.count && hot[h] < (y + 1) * n { dark[hot[h] - y * n] += Double(hotRates[h]); h += 1 }
                        if let crs = crRows[y] { for c in crs { extra[c.x] += c.e } }
                        let sig = buf + r * n
                        let pr = prnu + y * n
                        let pat = pattern + y * n
                        let out = pbase + y * width
                        for x in 0..<n {
                            let mu = sig[x] * t * Double(pr[x]) + dark[x] * t
                            var v: Double
                            if mu < 30 {
                                let e = mu > 0 ? rng.poisson(mu) : 0
                                v = (e + extra[x]) * invGain + rnADU * rng.normal()
                            } else {
                                v = (mu + extra[x]) * invGain + (mu * invGain * invGain + rn2).squareRoot() * rng.normal()
                            }
                            v += bias + Double(pat[x])
                            v = (v + 0.5).rounded(.down)
                            out[x] = UInt16(min(sat, max(0, v)))
                        }
                        for x in n..<width {
                            let v = (bias + rnADU * rng.normal() + 0.5).rounded(.down)
                            out[x] = UInt16(min(sat, max(0, v)))
                        }
                    }
                }
            }}}
        }
        return RawFrame(width: width, height: n, pixels: pixels, cosmicRayPixels: crIndices.count,
                        cosmicRayScienceIndices: crIndices)
    }

    static func lowerBoundInt(_ a: [Int], _ v: Int) -> Int {
        var lo = 0, hi = a.count
        while lo < hi { let mid = (lo + hi) / 2; if a[mid] < v { lo = mid + 1 } else { hi = mid } }
        return lo
    }
}
