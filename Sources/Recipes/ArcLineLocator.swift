import CalibCore
import Foundation

/// Locates arc-line images in stamps cut around predicted positions, as
/// SOXSPIPE's `create_dispersion_map` does: a σ-clipped median is removed
/// from the stamp, the brightest peak of the stamp convolved with a lowered
/// Gaussian kernel (DAOStarFinder's detection, Stetson 1987, PASP 99, 191)
/// is taken as the line if it stands `detectionThreshold` σ above the
/// background, and a pixel-integrated 2D Gaussian is then fitted
/// (`GaussianStampFit`) for centre, width and flux.
///
/// Pinholes of the multi-pinhole mask are only ~2.6 PSF σ apart, so
/// `locateGroup` fits all pinholes of one line together as a rigid comb
/// (shared widths, one common offset, relative positions from the map)
/// instead of fitting each in its own stamp, which would pull each centre
/// towards its neighbours.
public struct ArcLineLocator: Sendable {
    /// Stamp half-sizes, px (stamp = 2h + 1).
    public var halfWidthX: Int
    public var halfWidthY: Int
    /// First-guess PSF σ, px.
    public var psfSigma: Double
    /// Detection threshold in background σ of the convolved stamp.
    public var detectionThreshold: Double
    /// Accepted fitted σ as multiples of `psfSigma`.
    public var sigmaRange: ClosedRange<Double>
    /// e⁻/ADU, for the Poisson part of the peak SNR (1 if unknown).
    public var gain: Double
    /// Columns holding light (overscan excluded).
    public var columns: Range<Int>?
    public var fitter = GaussianStampFit()

    public init(halfWidthX: Int, halfWidthY: Int, psfSigma: Double, detectionThreshold: Double = 5,
                sigmaRange: ClosedRange<Double> = 0.5...2.0, gain: Double = 1, columns: Range<Int>? = nil) {
        self.halfWidthX = halfWidthX; self.halfWidthY = halfWidthY; self.psfSigma = psfSigma
        self.detectionThreshold = detectionThreshold; self.sigmaRange = sigmaRange; self.gain = gain; self.columns = columns
    }

    struct Stamp {
        var pixels: [Float]
        var x0: Int, y0: Int, width: Int, height: Int
        var backgroundSigma: Double
    }

    /// Cuts [xLo, xHi] × [yLo, yHi] (clamped to the image), removing a 3σ-clipped median.
    func stamp(_ image: Image, xLo: Int, xHi: Int, yLo: Int, yHi: Int) -> Stamp? {
        let cols = columns ?? 0..<image.width
        let xa = max(xLo, cols.lowerBound), xb = min(xHi, cols.upperBound - 1)
        let ya = max(yLo, 0), yb = min(yHi, image.height - 1)
        guard xb - xa >= 2, yb - ya >= 2 else { return nil }
        let w = xb - xa + 1, h = yb - ya + 1
        var pixels = [Float](repeating: 0, count: w * h)
        image.pixels.withUnsafeBufferPointer { src in
            for j in 0..<h { for i in 0..<w { pixels[j * w + i] = src[(ya + j) * image.width + xa + i] } }
        }
        let stats = RobustStatistics.sigmaClippedStatistics(pixels, sigma: 3, iterations: 5)
        let median = Float(stats.median.isNaN ? 0 : stats.median)
        for t in pixels.indices { pixels[t] -= median }
        return Stamp(pixels: pixels, x0: xa, y0: ya, width: w, height: h, backgroundSigma: stats.sigma.isNaN ? 0 : stats.sigma)
    }

    /// Brightest peak of the stamp convolved with a zero-sum Gaussian kernel, with its significance.
    func brightestPeak(_ s: Stamp) -> (x: Int, y: Int, significance: Double)? {
        let r = max(1, Int((2 * psfSigma).rounded(.up)))
        let side = 2 * r + 1
        var kernel = [Double](repeating: 0, count: side * side)
        var mean = 0.0
        for j in 0..<side {
            for i in 0..<side {
                let dx = Double(i - r), dy = Double(j - r)
                kernel[j * side + i] = exp(-0.5 * (dx * dx + dy * dy) / (psfSigma * psfSigma))
                mean += kernel[j * side + i]
            }
        }
        mean /= Double(side * side)
        var norm2 = 0.0
        for t in kernel.indices { kernel[t] -= mean; norm2 += kernel[t] * kernel[t] }
        let noise = s.backgroundSigma * norm2.squareRoot()
        var best: (Int, Int, Double)? = nil
        // Peaks on the stamp border are the wings of something outside it.
        guard s.width > 2, s.height > 2 else { return nil }
        var conv = [Double](repeating: -.infinity, count: s.width * s.height)
        for y in 0..<s.height {
            for x in 0..<s.width {
                var sum = 0.0
                for j in -r...r {
                    let yy = y + j
                    if yy < 0 || yy >= s.height { continue }
                    for i in -r...r {
                        let xx = x + i
                        if xx < 0 || xx >= s.width { continue }
                        let v = s.pixels[yy * s.width + xx]
                        if v.isNaN { continue }
                        sum += kernel[(j + r) * side + i + r] * Double(v)
                    }
                }
                conv[y * s.width + x] = sum
            }
        }
        for y in 1..<(s.height - 1) {
            for x in 1..<(s.width - 1) {
                let c = conv[y * s.width + x]
                var isMax = true
                for j in -1...1 { for i in -1...1 where (i != 0 || j != 0) && conv[(y + j) * s.width + x + i] > c { isMax = false } }
                if isMax && c > (best?.2 ?? 0) { best = (x, y, c) }
            }
        }
        guard let (bx, by, value) = best else { return nil }
        let significance = noise > 0 ? value / noise : .infinity
        return (bx, by, significance)
    }

    /// Locates the single line predicted at (x, y).
    public func locate(_ image: Image, x: Double, y: Double) -> LineMeasurement {
        guard x.isFinite, y.isFinite else { return .failed(.offImage) }
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        guard let s = stamp(image, xLo: cx - halfWidthX, xHi: cx + halfWidthX, yLo: cy - halfWidthY, yHi: cy + halfWidthY)
        else { return .failed(.offImage) }
        guard let peak = brightestPeak(s), peak.significance >= detectionThreshold else { return .failed(.notDetected) }
        let guessFlux = Double(s.pixels[peak.y * s.width + peak.x]) * 2 * Double.pi * psfSigma * psfSigma
        let initial = [GaussianStampFit.Component(x: Double(peak.x), y: Double(peak.y), flux: max(guessFlux, 1))]
        let result = s.pixels.withUnsafeBufferPointer {
            fitter.fit(stamp: $0, width: s.width, height: s.height, initial: initial, sigma: psfSigma)
        }
        guard let result else { return .failed(.fitFailed) }
        return measurement(result, component: 0, stamp: s)
    }

    /// Locates the images of one line through several pinholes, predicted at
    /// `positions`, in one stamp enclosing them all; one measurement per position.
    public func locateGroup(_ image: Image, positions: [(x: Double, y: Double)]) -> [LineMeasurement] {
        guard !positions.isEmpty, positions.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
            return positions.map { _ in .failed(.offImage) }
        }
        let xs = positions.map(\.x), ys = positions.map(\.y)
        guard let s = stamp(image, xLo: Int(xs.min()!.rounded()) - halfWidthX, xHi: Int(xs.max()!.rounded()) + halfWidthX,
                            yLo: Int(ys.min()!.rounded()) - halfWidthY, yHi: Int(ys.max()!.rounded()) + halfWidthY)
        else { return positions.map { _ in .failed(.offImage) } }
        guard let peak = brightestPeak(s), peak.significance >= detectionThreshold else {
            return positions.map { _ in .failed(.notDetected) }
        }
        // The comb moves as one (`GaussianStampFit.fitComb`): relative positions from the prediction.
        let reference = positions[0]
        let relative = positions.map { (x: $0.x - reference.x, y: $0.y - reference.y) }
        let fluxes = positions.map { p -> Double in
            let i = min(max(Int(p.x.rounded()) - s.x0, 0), s.width - 1), j = min(max(Int(p.y.rounded()) - s.y0, 0), s.height - 1)
            // A pinhole's peak pixel also holds its neighbours' wings: share it.
            return max(Double(s.pixels[j * s.width + i]), 1) * 2 * Double.pi * psfSigma * psfSigma / 2
        }
        let result = s.pixels.withUnsafeBufferPointer {
            fitter.fitComb(stamp: $0, width: s.width, height: s.height, relative: relative,
                           origin: (reference.x - Double(s.x0), reference.y - Double(s.y0)), fluxes: fluxes, sigma: psfSigma,
                           holdWidths: psfSigma < 0.5)
        }
        guard let result else { return positions.map { _ in .failed(.fitFailed) } }
        return positions.indices.map { k in
            var m = measurement(result, component: k, stamp: s)
            // A comb that wandered by more than a stamp half-width is fitting the next line.
            if m.quality == .good && (abs(m.x - positions[k].x) > Double(halfWidthX) || abs(m.y - positions[k].y) > Double(halfWidthY)) {
                m.quality = .offStamp
            }
            return m
        }
    }

    func measurement(_ r: GaussianStampFit.Result, component k: Int, stamp s: Stamp) -> LineMeasurement {
        let c = r.components[k]
        let fwhmFactor = 2 * (2 * log(2.0)).squareRoot()
        // Peak pixel of a pixel-integrated Gaussian centred on a pixel.
        let px = erf(0.5 / (r.sigmaX * 2.0.squareRoot())), py = erf(0.5 / (r.sigmaY * 2.0.squareRoot()))
        let peak = c.flux * px * py
        let noise = (s.backgroundSigma * s.backgroundSigma + max(peak, 0) / max(gain, 1e-6)).squareRoot()
        var m = LineMeasurement(x: c.x + Double(s.x0), y: c.y + Double(s.y0), fwhmX: r.sigmaX * fwhmFactor, fwhmY: r.sigmaY * fwhmFactor,
                                flux: c.flux, peakSNR: noise > 0 ? peak / noise : .infinity,
                                xError: r.centreErrors[k].x, yError: r.centreErrors[k].y, quality: .good)
        if !r.converged || !m.x.isFinite || !m.y.isFinite {
            m.quality = .fitFailed
        } else if c.x < -0.5 || c.x > Double(s.width) - 0.5 || c.y < -0.5 || c.y > Double(s.height) - 0.5 {
            m.quality = .offStamp
        } else if !sigmaRange.contains(r.sigmaX / psfSigma) || !sigmaRange.contains(r.sigmaY / psfSigma) {
            m.quality = .badWidth
        } else if c.flux <= 0 || m.peakSNR < detectionThreshold {
            m.quality = .notDetected
        }
        return m
    }
}
