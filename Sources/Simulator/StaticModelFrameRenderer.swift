import CalibCore
import Foundation

/// Renders raw frames of a `StaticModelInstrument` arm: biases, and
/// single-pinhole arcs with every central-pinhole line of the map as a
/// pixel-integrated 2D Gaussian (σ = FWHM/2.3548 unbinned px divided by each
/// axis's binning) at the map's position plus the night's shift.
///
/// The map's frame is the trimmed, turned one; the raw frame is built in the
/// turned orientation with the pre/overscan columns where the turn puts them,
/// then written back pixel by pixel through `FrameOrientation.rawPixel`, so
/// that reading it with the profile's orientation restores the map's frame
/// exactly. Noise: Poisson photons (through the gain) and Gaussian read noise;
/// values are rounded and clamped to 0…65535.
public struct StaticModelFrameRenderer: Sendable {
    public let arm: StaticModelInstrument.Arm
    public let binx: Int
    public let biny: Int

    public init(arm: StaticModelInstrument.Arm, binx: Int, biny: Int) {
        self.arm = arm; self.binx = binx; self.biny = biny
    }

    /// Raw frame size (binned) and where the map's columns start in the turned frame.
    public var rawWidth: Int { arm.rawWidth / binx }
    public var rawHeight: Int { arm.rawHeight / biny }
    public var prescanColumns: Int { arm.prescan / binx }
    public var overscanColumns: Int { arm.overscan / binx }
    /// The light-sensitive columns and rows of the turned frame (the maps' origin is their first).
    var scienceColumns: Range<Int> {
        if let window = arm.scienceWindow { return (window.columns[0] / binx)..<(window.columns[1] / binx) }
        return arm.orientation.orientedColumns(prescanColumns..<(rawWidth - overscanColumns), width: rawWidth) ?? 0..<rawWidth
    }
    var scienceRows: Range<Int> {
        if let window = arm.scienceWindow { return (window.rows[0] / biny)..<(window.rows[1] / biny) }
        return 0..<arm.orientation.orientedSize(width: rawWidth, height: rawHeight).height
    }

    /// The noise-free signal (ADU above bias) of a pinhole arc in the turned frame, and the lines' true centres there:
    /// the central pinhole's lines, or with `allPinholes` every pinhole of the map (a multi-pinhole arc).
    public func arcSignal(map: PinholeMap, shift: (x: Double, y: Double), allPinholes: Bool = false) -> (signal: [Float], centres: [(x: Double, y: Double)]) {
        let size = arm.orientation.orientedSize(width: rawWidth, height: rawHeight)
        var signal = [Float](repeating: 0, count: size.width * size.height)
        let entries = allPinholes ? map.entries : map.centralPinhole.entries
        let brightest = entries.map(\.intensity).max() ?? 1
        let sigma = arm.psfFWHM / (2 * (2 * log(2.0)).squareRoot())
        let sx = sigma / Double(binx), sy = sigma / Double(biny)
        var centres: [(x: Double, y: Double)] = []
        for e in entries {
            let cx = Double(scienceColumns.lowerBound) + e.x + shift.x, cy = Double(scienceRows.lowerBound) + e.y + shift.y
            centres.append((cx, cy))
            // Flux in proportion to the list intensity: the arc recipes check exactly that relation.
            let peak = arm.brightestPeak * e.intensity / brightest
            // Peak of a pixel-integrated Gaussian ≈ total / (2π sx sy) for sx, sy ≳ 1; total fixed so the sampled peak is ~`peak`.
            let total = peak * 2 * Double.pi * sx * sy
            let x0 = max(0, Int((cx - 5 * sx).rounded(.down))), x1 = min(size.width - 1, Int((cx + 5 * sx).rounded(.up)))
            let y0 = max(0, Int((cy - 5 * sy).rounded(.down))), y1 = min(size.height - 1, Int((cy + 5 * sy).rounded(.up)))
            guard x0 <= x1, y0 <= y1 else { continue }
            for y in y0...y1 {
                let fy = Self.fraction(Double(y), centre: cy, sigma: sy)
                for x in x0...x1 {
                    signal[y * size.width + x] += Float(total * fy * Self.fraction(Double(x), centre: cx, sigma: sx))
                }
            }
        }
        return (signal, centres)
    }

    /// The noise-free signal (ADU above bias, turned frame) of a continuum lamp through the whole slit (a flat,
    /// `pinhole` false) or through the central pinhole (an order definition): per order and row, the lamp's
    /// level × blaze at the row's wavelength, spread across x as the slit's image (a top hat between its ends
    /// convolved with the PSF) or as the pinhole's PSF (a pixel-integrated Gaussian at the centre).
    public func continuumSignal(format: StaticModelArmFormat, lamp: StaticModelInstrument.FlatLamp, pinhole: Bool) -> [Float] {
        let size = arm.orientation.orientedSize(width: rawWidth, height: rawHeight)
        var signal = [Float](repeating: 0, count: size.width * size.height)
        let sigma = arm.psfFWHM / (2 * (2 * log(2.0)).squareRoot()) / Double(binx)
        let offset = Double(scienceColumns.lowerBound)
        let limit = scienceColumns
        let peak = pinhole ? lamp.orderDefinitionPeak : lamp.flatPeak
        let rootTwoSigma = sigma * 2.0.squareRoot()
        for order in format.format.orders {
            let lit = order.lamp.isEmpty || order.lamp == lamp.lamp
            let level = peak * (lit ? 1 : lamp.otherOrders)
            for y in scienceRows {
                guard let image = format.slitImage(order: order.order, row: Double(y - scienceRows.lowerBound)) else { continue }
                let value = level * format.blaze(order: order.order, wavelength: image.wavelength, scale: arm.blazeScale)
                let (a, b) = pinhole ? (image.centre, image.centre) : (image.low, image.high)
                let x0 = max(limit.lowerBound, Int((a + offset - 5 * sigma).rounded(.down)))
                let x1 = min(limit.upperBound - 1, Int((b + offset + 5 * sigma).rounded(.up)))
                guard x0 <= x1 else { continue }
                for x in x0...x1 {
                    let p = Double(x) - offset
                    let profile = pinhole
                        ? Self.fraction(p, centre: a, sigma: sigma) * 2 * Double.pi.squareRoot() * sigma / 2.0.squareRoot()
                        : 0.5 * (erf((p - a) / rootTwoSigma) - erf((p - b) / rootTwoSigma))
                    signal[y * size.width + x] += Float(value * profile)
                }
            }
        }
        return signal
    }

    /// A pixel-response map of the turned frame: 1 + σ·N(0, 1) per pixel, the same for every frame of a seed.
    public func pixelResponse(seed: UInt64) -> [Float] {
        var random = Xoshiro256StarStar(keys: seed, 0x9E5)
        let size = arm.orientation.orientedSize(width: rawWidth, height: rawHeight)
        return (0..<(size.width * size.height)).map { _ in Float(1 + arm.prnu * random.normal()) }
    }

    /// Sets the response of `pixels` (the maps' frame: the science window's origin) to `value`; returns how many
    /// fell inside the window.
    public func inject(_ pixels: Set<StaticBadPixels.Pixel>, response value: Double, into response: inout [Float]) -> Int {
        let width = arm.orientation.orientedSize(width: rawWidth, height: rawHeight).width
        var count = 0
        for p in pixels {
            let x = scienceColumns.lowerBound + p.x, y = scienceRows.lowerBound + p.y
            guard scienceColumns.contains(x), scienceRows.contains(y) else { continue }
            response[y * width + x] = Float(value)
            count += 1
        }
        return count
    }

    /// Fraction of a unit Gaussian (centre, σ) falling in the pixel [p − ½, p + ½].
    static func fraction(_ p: Double, centre: Double, sigma: Double) -> Double {
        0.5 * (erf((p + 0.5 - centre) / (sigma * 2.0.squareRoot())) - erf((p - 0.5 - centre) / (sigma * 2.0.squareRoot())))
    }

    /// A raw frame: bias level, `signal` (turned frame, ADU; nil for a bias) with photon noise, read noise; turned back to the raw orientation.
    public func raw(signal: [Float]?, response: [Float]? = nil, seed: UInt64) -> [UInt16] {
        var random = Xoshiro256StarStar(keys: seed, 0x5A17)
        let size = arm.orientation.orientedSize(width: rawWidth, height: rawHeight)
        let readNoiseADU = arm.readNoise / arm.gain
        var out = [UInt16](repeating: 0, count: rawWidth * rawHeight)
        for y in 0..<size.height {
            for x in 0..<size.width {
                var value = arm.biasLevel + readNoiseADU * random.normal()
                if let signal, scienceColumns.contains(x), scienceRows.contains(y) {
                    let s = Double(signal[y * size.width + x]) * Double(response?[y * size.width + x] ?? 1)
                    if s > 0 { value += random.poisson(s * arm.gain) / arm.gain }
                }
                let source = arm.orientation.rawPixel(x: x, y: y, width: rawWidth, height: rawHeight)
                out[source.y * rawWidth + source.x] = UInt16(max(0, min(65535, value.rounded())))
            }
        }
        return out
    }
}
