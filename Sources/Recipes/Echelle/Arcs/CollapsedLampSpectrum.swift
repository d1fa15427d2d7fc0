import CalibCore
import Foundation

/// The Hector lamp-flux procedure for long-slit or fibre spectrographs
/// (MAVIS calibration tests with Hector data, `save_1d_spec.py` and
/// `measure_line_fluxes.py`): the bias- and dark-subtracted 2D frame is
/// summed along the spatial axis into a 1D spectrum with a linear wavelength
/// solution λ = CRVAL1 + (p − CRPIX1) · CDELT1 (p the 1-based FITS pixel),
/// and each line's flux is the sum over its pixel window from a CSV
/// definition, divided by the exposure time and the number of fibres.
///
/// NaN pixels (bad pixels) count as zero in the collapse; a window that
/// leaves the spectrum is clamped to it and flagged.
public struct CollapsedLampSpectrum: Sendable, Equatable {
    /// Summed counts per dispersion pixel, ADU.
    public var flux: [Double]
    public var crval1: Double
    public var crpix1: Double
    public var cdelt1: Double

    public init(flux: [Double], crval1: Double, crpix1: Double, cdelt1: Double) {
        self.flux = flux; self.crval1 = crval1; self.crpix1 = crpix1; self.cdelt1 = cdelt1
    }

    /// Which image axis runs along the dispersion.
    public enum DispersionAxis: Sendable { case x, y }

    /// Sums `image` over the spatial axis, restricted to `spatialRange` (all if nil).
    public static func collapse(_ image: Image, dispersionAxis: DispersionAxis, spatialRange: Range<Int>? = nil,
                                crval1: Double, crpix1: Double, cdelt1: Double) -> CollapsedLampSpectrum {
        let along = dispersionAxis == .x ? image.width : image.height
        let across = dispersionAxis == .x ? image.height : image.width
        let range = spatialRange.map { max($0.lowerBound, 0)..<min($0.upperBound, across) } ?? 0..<across
        var flux = [Double](repeating: 0, count: along)
        image.pixels.withUnsafeBufferPointer { p in
            for s in range {
                for d in 0..<along {
                    let v = dispersionAxis == .x ? p[s * image.width + d] : p[d * image.width + s]
                    if !v.isNaN { flux[d] += Double(v) }
                }
            }
        }
        return CollapsedLampSpectrum(flux: flux, crval1: crval1, crpix1: crpix1, cdelt1: cdelt1)
    }

    /// Wavelength at 1-based pixel p.
    public func wavelength(pixel p: Double) -> Double { crval1 + (p - crpix1) * cdelt1 }

    /// A line window: inclusive 1-based pixel range.
    public struct LineWindow: Sendable, Equatable {
        public var name: String
        public var start: Int
        public var stop: Int
        public init(name: String, start: Int, stop: Int) { self.name = name; self.start = start; self.stop = stop }
    }

    /// Parses `name,start,stop` rows (a header line and `#` comments are skipped).
    public static func parseWindows(_ csv: String) throws -> [LineWindow] {
        var out: [LineWindow] = []
        for (number, raw) in csv.split(separator: "\n").enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 3, let a = Int(f[1]), let b = Int(f[2]) else {
                if out.isEmpty && number == 0 { continue }   // the header
                throw WindowError(line: number + 1, text: line)
            }
            out.append(LineWindow(name: f[0], start: min(a, b), stop: max(a, b)))
        }
        return out
    }

    /// A line-window definition row that cannot be read.
    public struct WindowError: Error, CustomStringConvertible, Sendable {
        public let line: Int
        public let text: String
        public var description: String { "line windows, line \(line): expected name,start,stop but found '\(text)'" }
    }

    public struct WindowFlux: Sendable {
        public var window: LineWindow
        /// Flux-weighted centre, 1-based pixel, and its wavelength.
        public var centralPixel: Double
        public var wavelength: Double
        public var fluxADU: Double
        public var fluxADUPerSecond: Double
        public var fluxElectronsPerSecond: Double
        /// The window reached beyond the spectrum and was clamped.
        public var clamped: Bool
    }

    /// Sums each window; ADU/s = sum / (exposure time × fibres).
    public func measure(_ windows: [LineWindow], exposureTime: Double, fibres: Double = 1, gain: Double = .nan) -> [WindowFlux] {
        windows.map { w in
            let a = max(w.start, 1), b = min(w.stop, flux.count)
            var sum = 0.0, moment = 0.0
            if a <= b { for p in a...b { sum += flux[p - 1]; moment += flux[p - 1] * Double(p) } }
            let centre = sum != 0 ? moment / sum : Double(a + b) / 2
            let rate = sum / (max(exposureTime, 1e-9) * fibres)
            return WindowFlux(window: w, centralPixel: centre, wavelength: wavelength(pixel: centre), fluxADU: sum,
                              fluxADUPerSecond: rate, fluxElectronsPerSecond: rate * gain, clamped: a != w.start || b != w.stop)
        }
    }
}
