import CalibCore
import Dispatch
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
    /// Radius, px, about the prediction within which the peak is sought (nil:
    /// the whole stamp). When the prediction is good to a fraction of a FWHM
    /// (tonight's displacement already removed), ~1 FWHM keeps a brighter
    /// neighbour elsewhere in the stamp from being taken for the line and
    /// saves convolving the rest of the stamp.
    public var searchRadius: Double?
    /// Half-size, px, of the window about the detected peak on which the
    /// Gaussian is fitted (nil: the whole stamp). ±2 FWHM holds all but
    /// 10⁻⁶ of a Gaussian's flux, so the centre loses nothing, while
    /// neighbours and pixels a wide stamp adds beyond it stay out of the fit.
    public var fitHalfWidth: Int?
    public var fitter = GaussianStampFit()

    public init(halfWidthX: Int, halfWidthY: Int, psfSigma: Double, detectionThreshold: Double = 5,
                sigmaRange: ClosedRange<Double> = 0.5...2.0, gain: Double = 1, columns: Range<Int>? = nil,
                searchRadius: Double? = nil, fitHalfWidth: Int? = nil) {
        self.halfWidthX = halfWidthX; self.halfWidthY = halfWidthY; self.psfSigma = psfSigma
        self.detectionThreshold = detectionThreshold; self.sigmaRange = sigmaRange; self.gain = gain; self.columns = columns
        self.searchRadius = searchRadius; self.fitHalfWidth = fitHalfWidth
    }

    /// A stamp cut from the image: its pixels (median removed, NaN kept) live in a workspace.
    struct Stamp {
        var x0: Int, y0: Int, width: Int, height: Int
        var backgroundSigma: Double
    }

    /// Cuts [xLo, xHi] × [yLo, yHi] (clamped to the image) into `ws.stamp`, removing a 3σ-clipped median.
    func stamp(_ image: Image, xLo: Int, xHi: Int, yLo: Int, yHi: Int, workspace ws: LineFindingWorkspace) -> Stamp? {
        let cols = columns ?? 0..<image.width
        let xa = max(xLo, cols.lowerBound), xb = min(xHi, cols.upperBound - 1)
        let ya = max(yLo, 0), yb = min(yHi, image.height - 1)
        guard xb - xa >= 2, yb - ya >= 2 else { return nil }
        let w = xb - xa + 1, h = yb - ya + 1
        // Room for the detection's zero-padded copy too, so that no later step reallocates the stamp.
        let r = kernelRadius
        ws.reserve(pixels: (w + 2 * r + 2) * (h + 2 * r + 2), side: max(w, h, 2 * r + 1))
        let pixels = ws.stamp
        image.pixels.withUnsafeBufferPointer { src in
            for j in 0..<h { (pixels + j * w).update(from: src.baseAddress! + (ya + j) * image.width + xa, count: w) }
        }
        ws.clipValues.update(from: pixels, count: w * h)
        let stats = RobustStatistics.sigmaClippedStatistics(ws.clipValues, count: w * h, scratch: ws.clipScratch,
                                                            sigma: 3, iterations: 5)
        let median = Float(stats.median.isNaN ? 0 : stats.median)
        for t in 0..<(w * h) { pixels[t] -= median }
        return Stamp(x0: xa, y0: ya, width: w, height: h, backgroundSigma: stats.sigma.isNaN ? 0 : stats.sigma)
    }

    /// Brightest local maximum of the stamp convolved with DAOStarFinder's
    /// zero-sum Gaussian kernel (a Gaussian of σ = `psfSigma` over ±⌈2σ⌉ px
    /// minus its mean), among the stamp's interior pixels within `region`
    /// (stamp pixels; nil: the whole interior), with its significance in
    /// background σ of the convolved stamp. Pixels outside the stamp and NaN
    /// pixels count as zero (the background). Nil when no local maximum is
    /// positive.
    ///
    /// The kernel is a separable Gaussian minus a constant, so the
    /// convolution is a Gaussian row pass and column pass minus the mean
    /// times a box sum: 4(2r + 1) multiply-adds per pixel instead of
    /// (2r + 1)², and only the pixels within `region` and one beyond (for the
    /// local-maximum test) are convolved.
    func brightestPeak(_ s: Stamp, region: (x: ClosedRange<Int>, y: ClosedRange<Int>)? = nil,
                       workspace ws: LineFindingWorkspace) -> (x: Int, y: Int, significance: Double)? {
        // Peaks on the stamp border are the wings of something outside it.
        guard s.width > 2, s.height > 2 else { return nil }
        let w = s.width, h = s.height
        let cx0 = max(1, region?.x.lowerBound ?? 1), cx1 = min(w - 2, region?.x.upperBound ?? w - 2)
        let cy0 = max(1, region?.y.lowerBound ?? 1), cy1 = min(h - 2, region?.y.upperBound ?? h - 2)
        guard cx0 <= cx1, cy0 <= cy1 else { return nil }
        let r = kernelRadius
        let side = 2 * r + 1
        ws.reserve(pixels: (w + 2 * r + 2) * (h + 2 * r + 2), side: max(w, h, side))
        let g = ws.kernel
        if ws.kernelSigma != psfSigma {
            var sum = 0.0
            for t in 0..<side {
                let dt = Double(t - r)
                g[t] = exp(-0.5 * dt * dt / (psfSigma * psfSigma))
                sum += g[t]
            }
            let mean = sum * sum / Double(side * side)
            var norm2 = 0.0
            for j in 0..<side { for i in 0..<side { let k = g[j] * g[i] - mean; norm2 += k * k } }
            ws.kernelSigma = psfSigma; ws.kernelMean = mean; ws.kernelNorm2 = norm2
        }
        let mean = ws.kernelMean
        let noise = s.backgroundSigma * ws.kernelNorm2.squareRoot()
        // Convolved over the candidates and a one-pixel ring around them, from a zero-padded copy
        // (NaN → 0) of the pixels within the kernel's reach, so that every sum has 2r + 1 terms.
        let ex0 = cx0 - 1, ex1 = cx1 + 1, ey0 = cy0 - 1, ey1 = cy1 + 1
        let ew = ex1 - ex0 + 1, eh = ey1 - ey0 + 1
        let pw = ew + 2 * r, ph = eh + 2 * r
        let padded = ws.data, pixels = ws.stamp, rowGauss = ws.rowGauss, rowBox = ws.rowBox, conv = ws.convolved
        for py in 0..<ph {
            let y = ey0 - r + py
            let out = padded + py * pw
            guard y >= 0 && y < h else { for px in 0..<pw { out[px] = 0 }; continue }
            let row = pixels + y * w
            for px in 0..<pw {
                let x = ex0 - r + px
                let v: Float = x >= 0 && x < w ? row[x] : 0
                out[px] = v.isNaN ? 0 : Double(v)
            }
        }
        for py in 0..<ph {
            let source = padded + py * pw, gauss = rowGauss + py * ew, box = rowBox + py * ew
            for x in 0..<ew { gauss[x] = 0; box[x] = 0 }
            for t in 0..<side {
                let k = g[t], shifted = source + t
                for x in 0..<ew { gauss[x] += k * shifted[x]; box[x] += shifted[x] }
            }
        }
        for y in 0..<eh {
            let out = conv + y * ew
            for x in 0..<ew { out[x] = 0 }
            for t in 0..<side {
                let k = g[t], gauss = rowGauss + (y + t) * ew, box = rowBox + (y + t) * ew
                // Minus the kernel's mean times the box sum over its footprint.
                for x in 0..<ew { out[x] += k * gauss[x] - mean * box[x] }
            }
        }
        var best: (Int, Int, Double)? = nil
        for y in cy0...cy1 {
            for x in cx0...cx1 {
                let at = (y - ey0) * ew + x - ex0
                let c = conv[at]
                var isMax = true
                for j in -1...1 { for i in -1...1 where (i != 0 || j != 0) && conv[at + j * ew + i] > c { isMax = false } }
                if isMax && c > (best?.2 ?? 0) { best = (x, y, c) }
            }
        }
        guard let (bx, by, value) = best else { return nil }
        let significance = noise > 0 ? value / noise : .infinity
        return (bx, by, significance)
    }

    /// Half-size of the detection kernel, px: ±⌈2σ⌉ as DAOStarFinder's default.
    var kernelRadius: Int { max(1, Int((2 * psfSigma).rounded(.up))) }

    /// Locates the single line predicted at (x, y).
    public func locate(_ image: Image, x: Double, y: Double) -> LineMeasurement {
        locate(image, x: x, y: y, workspace: LineFindingWorkspace())
    }

    /// Locates the lines predicted at `positions`, in parallel over the
    /// cores (`RecipeParallelism.concurrentPerform`, at most `recipeThreads`); one measurement per
    /// position, in order. Each worker reuses one workspace, and each result
    /// depends on its own position only, so the results are the same
    /// whatever the threads' scheduling.
    public func locateAll(_ image: Image, at positions: [(x: Double, y: Double)]) -> [LineMeasurement] {
        let count = positions.count
        guard count > 0 else { return [] }
        let chunk = max(1, count / 32)
        let chunks = (count + chunk - 1) / chunk
        return [LineMeasurement](unsafeUninitializedCapacity: count) { buffer, initialized in
            positions.withUnsafeBufferPointer { source in
                nonisolated(unsafe) let output = buffer.baseAddress!
                nonisolated(unsafe) let input = source.baseAddress!
                RecipeParallelism.concurrentPerform(iterations: chunks) { c in
                    let ws = LineFindingWorkspace()
                    for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                        (output + i).initialize(to: locate(image, x: input[i].x, y: input[i].y, workspace: ws))
                    }
                }
            }
            initialized = count
        }
    }

    func locate(_ image: Image, x: Double, y: Double, workspace ws: LineFindingWorkspace) -> LineMeasurement {
        guard x.isFinite, y.isFinite else { return .failed(.offImage) }
        let cx = Int(x.rounded()), cy = Int(y.rounded())
        guard let s = stamp(image, xLo: cx - halfWidthX, xHi: cx + halfWidthX, yLo: cy - halfWidthY, yHi: cy + halfWidthY, workspace: ws)
        else { return .failed(.offImage) }
        let region = searchRadius.map { radius -> (x: ClosedRange<Int>, y: ClosedRange<Int>) in
            let r = max(1, Int(radius.rounded(.up)))
            return ((cx - s.x0 - r)...(cx - s.x0 + r), (cy - s.y0 - r)...(cy - s.y0 + r))
        }
        guard let peak = brightestPeak(s, region: region, workspace: ws), peak.significance >= detectionThreshold else {
            return .failed(.notDetected)
        }
        let pixels = ws.stamp
        let guessFlux = Double(pixels[peak.y * s.width + peak.x]) * 2 * Double.pi * psfSigma * psfSigma
        // The fit window: ±fitHalfWidth about the peak, within the stamp.
        let f = fitHalfWidth ?? max(s.width, s.height)
        let wx0 = max(0, peak.x - f), wx1 = min(s.width - 1, peak.x + f)
        let wy0 = max(0, peak.y - f), wy1 = min(s.height - 1, peak.y + f)
        let window = Stamp(x0: s.x0 + wx0, y0: s.y0 + wy0, width: wx1 - wx0 + 1, height: wy1 - wy0 + 1, backgroundSigma: s.backgroundSigma)
        let initial = GaussianStampFit.Component(x: Double(peak.x - wx0), y: Double(peak.y - wy0), flux: max(guessFlux, 1))
        guard let r = fitter.fitSingle(pixels: pixels + wy0 * s.width + wx0, rowStride: s.width, width: window.width,
                                       height: window.height, initial: initial, sigma: psfSigma, workspace: ws)
        else { return .failed(.fitFailed) }
        return measurement(r.component, sigmaX: r.sigmaX, sigmaY: r.sigmaY, centreError: r.centreError, converged: r.converged,
                           stamp: window)
    }

    /// Locates the images of one line through several pinholes, predicted at
    /// `positions`, in one stamp enclosing them all; one measurement per position.
    public func locateGroup(_ image: Image, positions: [(x: Double, y: Double)]) -> [LineMeasurement] {
        guard !positions.isEmpty, positions.allSatisfy({ $0.x.isFinite && $0.y.isFinite }) else {
            return positions.map { _ in .failed(.offImage) }
        }
        let xs = positions.map(\.x), ys = positions.map(\.y)
        let ws = LineFindingWorkspace()
        guard let s = stamp(image, xLo: Int(xs.min()!.rounded()) - halfWidthX, xHi: Int(xs.max()!.rounded()) + halfWidthX,
                            yLo: Int(ys.min()!.rounded()) - halfWidthY, yHi: Int(ys.max()!.rounded()) + halfWidthY, workspace: ws)
        else { return positions.map { _ in .failed(.offImage) } }
        guard let peak = brightestPeak(s, workspace: ws), peak.significance >= detectionThreshold else {
            return positions.map { _ in .failed(.notDetected) }
        }
        // The comb moves as one (`GaussianStampFit.fitComb`): relative positions from the prediction.
        let reference = positions[0]
        let relative = positions.map { (x: $0.x - reference.x, y: $0.y - reference.y) }
        let fluxes = positions.map { p -> Double in
            let i = min(max(Int(p.x.rounded()) - s.x0, 0), s.width - 1), j = min(max(Int(p.y.rounded()) - s.y0, 0), s.height - 1)
            // A pinhole's peak pixel also holds its neighbours' wings: share it.
            return max(Double(ws.stamp[j * s.width + i]), 1) * 2 * Double.pi * psfSigma * psfSigma / 2
        }
        let result = fitter.fitComb(stamp: UnsafeBufferPointer(start: ws.stamp, count: s.width * s.height), width: s.width,
                                    height: s.height, relative: relative, origin: (reference.x - Double(s.x0), reference.y - Double(s.y0)),
                                    fluxes: fluxes, sigma: psfSigma, holdWidths: psfSigma < 0.5)
        guard let result else { return positions.map { _ in .failed(.fitFailed) } }
        return positions.indices.map { k in
            let c = result.components[k]
            var m = measurement(c, sigmaX: result.sigmaX, sigmaY: result.sigmaY, centreError: result.centreErrors[k],
                                converged: result.converged, stamp: s)
            // A comb that wandered by more than a stamp half-width is fitting the next line.
            if m.quality == .good && (abs(m.x - positions[k].x) > Double(halfWidthX) || abs(m.y - positions[k].y) > Double(halfWidthY)) {
                m.quality = .offStamp
            }
            return m
        }
    }

    /// The measurement of a fitted component (stamp coordinates) with its quality verdict.
    func measurement(_ c: GaussianStampFit.Component, sigmaX: Double, sigmaY: Double, centreError: (x: Double, y: Double),
                     converged: Bool, stamp s: Stamp) -> LineMeasurement {
        let fwhmFactor = 2 * (2 * log(2.0)).squareRoot()
        // Peak pixel of a pixel-integrated Gaussian centred on a pixel.
        let px = erf(0.5 / (sigmaX * 2.0.squareRoot())), py = erf(0.5 / (sigmaY * 2.0.squareRoot()))
        let peak = c.flux * px * py
        let noise = (s.backgroundSigma * s.backgroundSigma + max(peak, 0) / max(gain, 1e-6)).squareRoot()
        var m = LineMeasurement(x: c.x + Double(s.x0), y: c.y + Double(s.y0), fwhmX: sigmaX * fwhmFactor, fwhmY: sigmaY * fwhmFactor,
                                flux: c.flux, peakSNR: noise > 0 ? peak / noise : .infinity,
                                xError: centreError.x, yError: centreError.y, quality: .good)
        if !converged || !m.x.isFinite || !m.y.isFinite {
            m.quality = .fitFailed
        } else if c.x < -0.5 || c.x > Double(s.width) - 0.5 || c.y < -0.5 || c.y > Double(s.height) - 0.5 {
            m.quality = .offStamp
        } else if !sigmaRange.contains(sigmaX / psfSigma) || !sigmaRange.contains(sigmaY / psfSigma) {
            m.quality = .badWidth
        } else if c.flux <= 0 || m.peakSNR < detectionThreshold {
            m.quality = .notDetected
        }
        return m
    }
}
