import CalibCore
import Foundation

/// The 2D wavelength and slit-position images of a long slit: for every pixel (x, y) of the
/// oriented frame, its wavelength (Å; the IDS model followed along the tilted line through
/// it back to the slit centre) and its position along the slit (0 at the left optical edge,
/// 1 at the right). Pixels outside the slit, or outside the traced rows, are NaN.
public enum LongSlitPixelMaps {
    /// A polynomial in one variable, c₀ + c₁t + …, t = (v − offset)/halfRange.
    struct Polynomial1D {
        var coefficients: [Double]
        var offset: Double
        var halfRange: Double

        /// Variable `keep` of a two-variable surface, the other held at `value`.
        init(_ surface: PolynomialSurface, keep: Int, fixedAt value: Double) {
            let reduced = surface.fixing(variable: 1 - keep, at: value)
            coefficients = reduced.coefficients; offset = reduced.offsets[0]; halfRange = reduced.halfRanges[0]
        }

        func callAsFunction(_ v: Double) -> Double {
            let t = (v - offset) / halfRange
            var sum = 0.0
            for c in coefficients.reversed() { sum = sum * t + c }
            return sum
        }
    }

    public static func make(width: Int, height: Int, wavelength: LongSlitWavelengthSolution.Result,
                            left: PolynomialSurface, right: PolynomialSurface) -> (wavelength: Image, slitPosition: Image) {
        var wave = Image(width: width, height: height, value: .nan)
        var position = Image(width: width, height: height, value: .nan)
        let lambda = Polynomial1D(wavelength.solution.polynomial, keep: 0, fixedAt: 0)
        let leftEdge = Polynomial1D(left, keep: 0, fixedAt: 0), rightEdge = Polynomial1D(right, keep: 0, fixedAt: 0)
        let first = Double(wavelength.rows.lowerBound)
        let tiltByColumn = wavelength.tilt.map { tilt in (0..<width).map { Polynomial1D(tilt.surface, keep: 1, fixedAt: Double($0)) } }
        for y in wavelength.rows where y >= 0 && y < height {
            let l = leftEdge(Double(y)), r = rightEdge(Double(y))
            let x0 = max(0, Int(l.rounded(.up))), x1 = min(width - 1, Int(r.rounded(.down)))
            guard r > l, x0 <= x1 else { continue }
            for x in x0...x1 {
                var y0 = Double(y)
                if let shift = tiltByColumn?[x] { for _ in 0..<4 { y0 = Double(y) - shift(y0) } }
                wave[x, y] = Float(lambda(y0 - first))
                position[x, y] = Float((Double(x) - l) / (r - l))
            }
        }
        return (wave, position)
    }
}
