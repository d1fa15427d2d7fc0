import CalibCore
import Foundation

/// Renders frames of the simulated multi-slit spectrograph in memory, in calibd's orientation
/// (x spatial, y dispersion), as Float ADU images.
///
/// Light is analytic: through-slit flat = lamp level × (top-hat between the aperture's edges at
/// the row, `MultiSlitSpectrograph.edges`) ⊗ Gaussian PSF, integrated over the pixel; arc line =
/// flux × spatial top-hat between the ends' tracks × a top-hat across the line (the slit width
/// seen along y) centred on the line's row at the column (`lineRow`), both ⊗ PSF and pixel.
/// So the half-level edges, the line centroids and the OPT positions are the truth by
/// construction, to the locally-affine approximation of the slit width (≤ 1e-3 px here).
/// Noise: Poisson (Gaussian approximation), read noise, then gain and bias.
public struct MultiSlitFrameRenderer: Sendable {
    public enum Kind: Sendable, Equatable {
        case bias
        /// Through-slit continuum flat, `scale` times the configured lamp level.
        case flat(scale: Double)
        /// Arc lamp through the mask, `scale` times the configured line fluxes.
        case arc(scale: Double)
    }

    public let spectrograph: MultiSlitSpectrograph

    public init(_ spectrograph: MultiSlitSpectrograph) { self.spectrograph = spectrograph }

    /// The noise-free light (e⁻ per pixel), without bias.
    public func expectedElectrons(_ kind: Kind) -> [Double] {
        let d = spectrograph.model.detector
        var image = [Double](repeating: 0, count: d.width * d.height)
        switch kind {
        case .bias: break
        case .flat(let scale): addFlat(&image, scale: scale)
        case .arc(let scale): addArc(&image, scale: scale)
        }
        return image
    }

    /// A raw frame (ADU, Float, bias included) with noise from the stream `seed`.
    public func render(_ kind: Kind, seed: UInt64) -> Image {
        let d = spectrograph.model.detector
        let light = expectedElectrons(kind)
        var out = Image(width: d.width, height: d.height)
        var random = Xoshiro256StarStar(keys: seed, 0x4D4F53)
        for i in 0..<light.count {
            let e = light[i] + light[i].squareRoot() * random.normal() + d.readNoise * random.normal()
            out.pixels[i] = Float(d.bias + e / d.gain)
        }
        return out
    }

    /// Relative spectrum of the flat lamp along the rows: 1 at the middle row, 0.6 at the ends.
    func lampShape(row y: Double) -> Double {
        let h = Double(spectrograph.model.detector.height)
        let u = (y - (h - 1) / 2) / ((h - 1) / 2)
        return 1 - 0.4 * u * u
    }

    private func addFlat(_ image: inout [Double], scale: Double) {
        let s = spectrograph, d = s.model.detector, sigma = d.psfSigma
        for (index, slit) in s.apertures.enumerated() {
            // Width along the dispersion of a slit cut parallel to it.
            let chord = slit.width / cos(slit.angle * .pi / 180)
            let level = scale * s.model.lamps.flatElectronsPerMillimetre * chord
            for y in 0..<d.height {
                let edge = s.edges(aperture: index, row: Double(y))
                let lo = max(0, Int((edge.low - 6 * sigma).rounded(.down))), hi = min(d.width - 1, Int((edge.high + 6 * sigma).rounded(.up)))
                guard lo <= hi else { continue }
                let rowLevel = level * lampShape(row: Double(y))
                for x in lo...hi {
                    image[y * d.width + x] += rowLevel * SimMath.boxedTopHat(Double(x), lo: edge.low, hi: edge.high, sigma: sigma)
                }
            }
        }
    }

    private func addArc(_ image: inout [Double], scale: Double) {
        let s = spectrograph, d = s.model.detector, sigma = d.psfSigma
        guard let strongest = s.lines.map(\.relativeIntensity).max(), strongest > 0 else { return }
        for (index, slit) in s.apertures.enumerated() {
            let chord = slit.width / cos(slit.angle * .pi / 180)
            let widthPx = chord * s.dispersionAxisScale(x: slit.x, y: slit.y)
            for line in s.lines {
                let ends = slit.ends.map { s.position(x: $0.x, y: $0.y, wavelength: line.wavelength) }
                guard ends.contains(where: { $0.y > -10 && $0.y < Double(d.height) + 10 }) else { continue }
                let xLow = min(ends[0].x, ends[1].x), xHigh = max(ends[0].x, ends[1].x)
                // Flux per column of the line, e⁻, spread over the width's pixels.
                let flux = scale * s.model.lamps.arcElectronsPerMillimetre * chord * line.relativeIntensity / strongest
                let lo = max(0, Int((xLow - 6 * sigma).rounded(.down))), hi = min(d.width - 1, Int((xHigh + 6 * sigma).rounded(.up)))
                guard lo <= hi else { continue }
                for x in lo...hi {
                    let along = SimMath.boxedTopHat(Double(x), lo: xLow, hi: xHigh, sigma: sigma)
                    guard along > 1e-9 else { continue }
                    let centre = s.lineRow(aperture: index, wavelength: line.wavelength, column: Double(x)).y
                    let y0 = max(0, Int((centre - widthPx / 2 - 6 * sigma).rounded(.down)))
                    let y1 = min(d.height - 1, Int((centre + widthPx / 2 + 6 * sigma).rounded(.up)))
                    guard y0 <= y1 else { continue }
                    for y in y0...y1 {
                        let across = SimMath.boxedTopHat(Double(y), lo: centre - widthPx / 2, hi: centre + widthPx / 2, sigma: sigma)
                        image[y * d.width + x] += flux / widthPx * along * across
                    }
                }
            }
        }
    }
}
