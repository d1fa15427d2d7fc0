import CalibCore
import Foundation

/// One emission line found in a one-dimensional arc spectrum.
public struct ArcLinePeak: Sendable, Equatable {
    /// Centre, pixels along the spectrum (pixel centres at integers).
    public var position: Double
    /// Peak height above the local continuum, ADU.
    public var amplitude: Double
    /// Gaussian σ, pixels.
    public var sigma: Double
    /// Amplitude over the spectrum's robust noise.
    public var snr: Double
}

/// Finds and centres emission lines in an arc spectrum.
///
/// The continuum is a running median `continuumWidth` pixels wide; the noise is the MAD σ of
/// the spectrum minus its continuum. A local maximum more than `threshold` σ above the
/// continuum is a line; its centre, σ and amplitude come from a least-squares Gaussian plus
/// constant over ±`halfWidth` pixels (Gauss–Newton, started from the maximum). A line whose
/// fit does not converge, moves by more than one pixel, or has σ outside 0.3…`halfWidth`
/// pixels is dropped (a blend or a cosmic ray). NaN samples end the window.
///
/// With `slopedBackground`, the constant becomes a straight line b + s·(x − μ): a faint line
/// on the wing of a bright neighbour (Kast's Hg 4348.7 Å, 10 px from Hg 4359.6 Å and 100×
/// fainter; the Hg 3651/3656/3664 Å group) sits on a background that slopes across its
/// window, and a constant leaves its centre pulled towards the neighbour by 0.1–0.3 px. On
/// the real Kast arc this takes the 27 identified lines from 0.110 px to 0.023 px RMS about a
/// degree-5 solution. It needs `halfWidth` ≥ 3 (five parameters on seven samples or more).
public struct ArcLineFinder: Sendable {
    public var threshold: Double
    public var halfWidth: Int
    public var continuumWidth: Int
    public var slopedBackground: Bool

    public init(threshold: Double = 8, halfWidth: Int = 3, continuumWidth: Int = 51, slopedBackground: Bool = false) {
        self.threshold = threshold; self.halfWidth = halfWidth; self.continuumWidth = continuumWidth
        self.slopedBackground = slopedBackground && halfWidth >= 3
    }

    /// The median of `columns` in each row of `rows`: a spectrum along y.
    public static func spectrum(_ image: Image, columns: Range<Int>, rows: Range<Int>) -> [Double] {
        var values = [Float]()
        values.reserveCapacity(columns.count)
        return rows.map { y in
            values.removeAll(keepingCapacity: true)
            for x in columns where !image[x, y].isNaN { values.append(image[x, y]) }
            return values.isEmpty ? .nan : RobustStatistics.medianInPlace(&values)
        }
    }

    public func find(in spectrum: [Double]) -> [ArcLinePeak] {
        let continuum = RunningMedian.filter(spectrum.map(Float.init), width: continuumWidth)
        let signal = zip(spectrum, continuum).map { $0 - Double($1) }
        let noise = RobustStatistics.madSigma(signal.filter(\.isFinite).map(Float.init)).sigma
        guard noise > 0 else { return [] }
        var peaks: [ArcLinePeak] = []
        for i in halfWidth..<(signal.count - halfWidth) {
            let v = signal[i]
            guard v > threshold * noise, v > signal[i - 1], v >= signal[i + 1] else { continue }
            guard var fit = Self.gaussian(signal, around: i, halfWidth: halfWidth, sloped: slopedBackground) else { continue }
            guard abs(fit.position - Double(i)) <= 1, fit.sigma >= 0.3, fit.sigma <= Double(halfWidth) else { continue }
            fit.snr = fit.amplitude / noise
            peaks.append(fit)
        }
        return peaks
    }

    /// Gaussian a·exp(−(x−μ)²/2σ²) + b (+ s·(x − μ) when `sloped`) fitted to `values[i−h…i+h]`
    /// by Gauss–Newton.
    static func gaussian(_ values: [Double], around i: Int, halfWidth h: Int, sloped: Bool = false) -> ArcLinePeak? {
        let xs = ((i - h)...(i + h)).map(Double.init)
        let ys = ((i - h)...(i + h)).map { values[$0] }
        guard ys.allSatisfy(\.isFinite) else { return nil }
        var b = ys.min()!, slope = 0.0
        var a = values[i] - b, mu = Double(i), sigma = 1.0
        let columns = sloped ? 5 : 4
        for _ in 0..<30 {
            var design: [Double] = [], residual: [Double] = []
            for (x, y) in zip(xs, ys) {
                let u = (x - mu) / sigma
                let e = exp(-0.5 * u * u)
                // ∂/∂μ of s·(x − μ) is −s; the slope's column is (x − μ).
                design += [e, a * e * u / sigma - slope, a * e * u * u / sigma, 1]
                if sloped { design.append(x - mu) }
                residual.append(y - (a * e + b + slope * (x - mu)))
            }
            guard let step = try? LinearLeastSquares.solve(design: design, rows: xs.count, columns: columns, rhs: residual).coefficients,
                  step.allSatisfy(\.isFinite) else { return nil }
            a += step[0]; mu += step[1]; sigma += step[2]; b += step[3]
            if sloped { slope += step[4] }
            guard sigma > 0.05, abs(mu - Double(i)) < Double(h) else { return nil }
            if abs(step[1]) < 1e-6 && abs(step[2]) < 1e-6 { break }
        }
        guard a > 0 else { return nil }
        return ArcLinePeak(position: mu, amplitude: a, sigma: sigma, snr: 0)
    }
}
