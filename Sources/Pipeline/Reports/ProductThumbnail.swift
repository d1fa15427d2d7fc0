import CalibCore
import FITS
import Foundation
import Recipes

/// A small picture of a product's image, so that a person sees the master
/// bias, the master flat (with its traced order edges), the 2D wavelength map
/// at a glance and notices a stripe, a dead lamp or a shifted trace that no
/// QC number names.
///
/// The image is block-averaged (NaN-aware) to at most `maxSide` pixels a side
/// and shown with IRAF's z-scale (display limits from a line fitted to the
/// sorted pixel sample, contrast 0.25; Tody 1986, "The IRAF Data Reduction and
/// Analysis System"), so that the few hot pixels or the zero-filled overscan
/// do not set the grey levels. NaN pixels are drawn black. y grows upwards,
/// as the detector's rows do in every astronomical viewer.
public struct ProductThumbnail: Sendable {
    public static let maxSide = 320

    /// Which image of a product type is pictured, and whether edges are overlaid; nil: no picture (tables, 1D spectra).
    public static func imageExtension(for type: ProductType) -> (hdu: String?, edges: Bool)? {
        switch type {
        case .masterBias, .masterDark: (nil, false)
        case .masterFlat: (nil, true)
        case .dispersionImage: ("WAVELENGTH", false)
        default: nil
        }
    }

    /// The PNG of a product's image, or nil when its type has no picture.
    public static func png(productPath: String, type: ProductType) throws -> Data? {
        guard let (hdu, edges) = imageExtension(for: type) else { return nil }
        let file = try FITSFile.open(productPath)
        defer { try? file.close() }
        if let hdu { _ = try file.moveTo(extensionName: hdu) } else { try file.firstImageHDU() }
        let shape = try file.imageShape()
        guard shape.count >= 2 else { return nil }
        let width = shape[0], height = shape[1]
        let pixels: [Float] = try file.readImage()
        let factor = max(1, (max(width, height) + maxSide - 1) / maxSide)
        let (binned, bw, bh) = bin(pixels, width: width, height: height, factor: factor)
        let (z1, z2) = zscale(binned)
        var rgb = [UInt8](repeating: 0, count: bw * bh * 3)
        for y in 0..<bh {
            for x in 0..<bw {
                let value = binned[y * bw + x]
                let grey: UInt8 = value.isFinite ? UInt8(max(0, min(255, (Double(value) - z1) / max(z2 - z1, 1e-30) * 255)).rounded()) : 0
                let out = ((bh - 1 - y) * bw + x) * 3
                rgb[out] = grey; rgb[out + 1] = grey; rgb[out + 2] = grey
            }
        }
        if edges, let geometry = try? OrderTableFile.read(path: productPath) {
            // Lower edges in orange, upper in cyan: the trace must hug each order's bright band.
            for order in geometry.orders {
                guard let rows = geometry.rowRanges[order] else { continue }
                for y in stride(from: rows.lowerBound, through: rows.upperBound, by: factor) {
                    guard let e = geometry.edges(order: order, y: Double(y)) else { continue }
                    for (x, colour) in [(e.lower, [255, 140, 0]), (e.upper, [0, 200, 255])] {
                        let bx = Int((x / Double(factor)).rounded()), by = y / factor
                        guard (0..<bw).contains(bx), (0..<bh).contains(by) else { continue }
                        let out = ((bh - 1 - by) * bw + bx) * 3
                        rgb[out] = UInt8(colour[0]); rgb[out + 1] = UInt8(colour[1]); rgb[out + 2] = UInt8(colour[2])
                    }
                }
            }
        }
        return try PNGEncoder.encode(width: bw, height: bh, colour: .rgb, pixels: rgb)
    }

    /// Means of `factor × factor` blocks over their finite pixels (NaN where none is).
    static func bin(_ pixels: [Float], width: Int, height: Int, factor: Int) -> ([Float], Int, Int) {
        let bw = max(1, width / factor), bh = max(1, height / factor)
        var out = [Float](repeating: .nan, count: bw * bh)
        pixels.withUnsafeBufferPointer { p in
            for by in 0..<bh {
                for bx in 0..<bw {
                    var sum = 0.0, n = 0
                    for y in (by * factor)..<min(height, (by + 1) * factor) {
                        for x in (bx * factor)..<min(width, (bx + 1) * factor) {
                            let v = p[y * width + x]
                            if v.isFinite { sum += Double(v); n += 1 }
                        }
                    }
                    if n > 0 { out[by * bw + bx] = Float(sum / Double(n)) }
                }
            }
        }
        return (out, bw, bh)
    }

    /// IRAF's z-scale display limits: a line fitted to the sorted sample of
    /// finite pixels with 2.5σ rejection; z1, z2 = median ∓ (n/2)·slope/contrast,
    /// clamped to the sample's range. A flat image gives its value ± 1.
    static func zscale(_ values: [Float], samples: Int = 2000, contrast: Double = 0.25) -> (Double, Double) {
        let finite = values.filter(\.isFinite)
        guard !finite.isEmpty else { return (0, 1) }
        let stride = max(1, finite.count / samples)
        let sample = Swift.stride(from: 0, to: finite.count, by: stride).map { Double(finite[$0]) }.sorted()
        let n = sample.count, lo = sample.first!, hi = sample.last!
        let median = sample[n / 2]
        guard n >= 5, hi > lo else { return (lo - 1, hi + 1) }
        var keep = [Bool](repeating: true, count: n)
        var slope = 0.0, intercept = median
        for _ in 0..<5 {
            let idx = (0..<n).filter { keep[$0] }
            guard idx.count >= max(5, n / 2) else { break }
            let xs = idx.map { Double($0) }, ys = idx.map { sample[$0] }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            let sxx = zip(xs, xs).map { ($0 - mx) * ($1 - mx) }.reduce(0, +)
            let sxy = zip(xs, ys).map { ($0 - mx) * ($1 - my) }.reduce(0, +)
            slope = sxx > 0 ? sxy / sxx : 0
            intercept = my - slope * mx
            let residuals = idx.map { sample[$0] - (intercept + slope * Double($0)) }
            let sigma = (residuals.map { $0 * $0 }.reduce(0, +) / Double(residuals.count)).squareRoot()
            var changed = false
            for (k, i) in idx.enumerated() where abs(residuals[k]) > 2.5 * sigma && sigma > 0 { keep[i] = false; changed = true }
            if !changed { break }
        }
        let half = Double(n) / 2 * slope / contrast
        let z1 = max(lo, median - half), z2 = min(hi, median + half)
        return z2 > z1 ? (z1, z2) : (lo, hi)
    }
}
