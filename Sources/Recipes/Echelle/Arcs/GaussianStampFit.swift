import Foundation

/// Least-squares fit of K pixel-integrated 2D Gaussians that share their
/// widths (σx, σy) and a constant background, on a small image stamp:
///
///   m(i, j) = B + Σₖ Aₖ [Φ((i + ½ − xₖ)/σx) − Φ((i − ½ − xₖ)/σx)] · [Φ((j + ½ − yₖ)/σy) − Φ((j − ½ − yₖ)/σy)]
///
/// so Aₖ is the line's total flux (ADU) and (xₖ, yₖ) its centre in stamp
/// pixels (pixel centres at integers). Integrating over the pixel, instead
/// of sampling the Gaussian at its centre, matters at 4×4 binning: with a
/// FWHM of 1.5 px a point-sampled model biases centres by up to ~0.01 px
/// depending on the sub-pixel phase, the whole error budget.
///
/// Solved by Levenberg–Marquardt (Marquardt 1963, diagonal scaling) with
/// analytic derivatives, hand-written rather than through GSL's
/// `gsl_multifit_nlinear`: a stamp has ~100 pixels and 6 parameters (one
/// line) or ~24 (seven pinholes sharing widths), so the normal equations fit
/// in registers-and-cache and GSL's workspace allocation and callback
/// trampolines would cost more than the fit itself (the target is ≤ 50 µs per
/// line). Data are weighted equally: the centre is unbiased either way and
/// the lines used for the solution are bright.
///
/// NaN pixels (bad pixels) are ignored.
public struct GaussianStampFit: Sendable {
    public var maxIterations: Int
    /// Smallest σ allowed, px: narrower "lines" are cosmic rays or hot pixels.
    public var minimumSigma: Double

    public init(maxIterations: Int = 40, minimumSigma: Double = 0.2) {
        self.maxIterations = maxIterations; self.minimumSigma = minimumSigma
    }

    public struct Component: Sendable, Equatable {
        public var x: Double
        public var y: Double
        /// Total flux, ADU.
        public var flux: Double
        public init(x: Double, y: Double, flux: Double) { self.x = x; self.y = y; self.flux = flux }
    }

    public struct Result: Sendable {
        public var components: [Component]
        public var sigmaX: Double
        public var sigmaY: Double
        public var background: Double
        /// RMS of data − model over the stamp, ADU.
        public var residualRMS: Double
        /// 1σ uncertainty of each component's x and y from the covariance, px.
        public var centreErrors: [(x: Double, y: Double)]
        public var iterations: Int
        public var converged: Bool
    }

    static let invSqrt2 = 1 / 2.0.squareRoot()
    static let invSqrt2Pi = 1 / (2 * Double.pi).squareRoot()

    /// - Parameters:
    ///   - stamp: `width × height` pixels, row-major, x fastest.
    ///   - initial: first guesses in stamp pixels; fluxes may be rough.
    ///   - sigma: first guess of σ in px (both axes).
    /// - Returns: nil when the normal equations are singular from the start.
    public func fit(stamp: UnsafeBufferPointer<Float>, width: Int, height: Int, initial: [Component], sigma: Double,
                    background: Double = 0) -> Result? {
        let k = initial.count
        let np = 3 + 3 * k
        var p = [Double](repeating: 0, count: np)
        p[0] = background; p[1] = sigma; p[2] = sigma
        for (c, comp) in initial.enumerated() { p[3 + 3 * c] = comp.flux; p[4 + 3 * c] = comp.x; p[5 + 3 * c] = comp.y }

        // Per-component profile tables along x and y: value, d/dcentre, d/dσ.
        var gx = [Double](repeating: 0, count: k * width), dgxC = gx, dgxS = gx
        var gy = [Double](repeating: 0, count: k * height), dgyC = gy, dgyS = gy
        var jtj = [Double](repeating: 0, count: np * np), jtr = [Double](repeating: 0, count: np)
        var row = [Double](repeating: 0, count: np)
        var trial = p, step = p
        var lambda = 1e-3

        func profiles(_ q: [Double], derivatives: Bool) {
            for c in 0..<k {
                Self.profile(centre: q[4 + 3 * c], sigma: q[1], count: width, value: &gx, dCentre: &dgxC, dSigma: &dgxS,
                             base: c * width, derivatives: derivatives)
                Self.profile(centre: q[5 + 3 * c], sigma: q[2], count: height, value: &gy, dCentre: &dgyC, dSigma: &dgyS,
                             base: c * height, derivatives: derivatives)
            }
        }
        func chiSquare(_ q: [Double]) -> (Double, Int) {
            profiles(q, derivatives: false)
            var chi2 = 0.0, n = 0
            for j in 0..<height {
                for i in 0..<width {
                    let d = stamp[j * width + i]
                    if d.isNaN { continue }
                    var m = q[0]
                    for c in 0..<k { m += q[3 + 3 * c] * gx[c * width + i] * gy[c * height + j] }
                    let r = Double(d) - m
                    chi2 += r * r; n += 1
                }
            }
            return (chi2, n)
        }

        var (chi2, pixels) = chiSquare(p)
        guard pixels > np else { return nil }
        var iterations = 0, converged = false
        var lastGood = false
        while iterations < maxIterations {
            iterations += 1
            // Normal equations at p.
            profiles(p, derivatives: true)
            for t in 0..<(np * np) { jtj[t] = 0 }
            for t in 0..<np { jtr[t] = 0 }
            for j in 0..<height {
                for i in 0..<width {
                    let d = stamp[j * width + i]
                    if d.isNaN { continue }
                    var m = p[0]
                    row[0] = 1; row[1] = 0; row[2] = 0
                    for c in 0..<k {
                        let a = p[3 + 3 * c]
                        let vx = gx[c * width + i], vy = gy[c * height + j]
                        m += a * vx * vy
                        row[1] += a * dgxS[c * width + i] * vy
                        row[2] += a * vx * dgyS[c * height + j]
                        row[3 + 3 * c] = vx * vy
                        row[4 + 3 * c] = a * dgxC[c * width + i] * vy
                        row[5 + 3 * c] = a * vx * dgyC[c * height + j]
                    }
                    let r = Double(d) - m
                    for a in 0..<np {
                        let ra = row[a]
                        if ra == 0 { continue }
                        jtr[a] += ra * r
                        for b in a..<np { jtj[a * np + b] += ra * row[b] }
                    }
                }
            }
            for a in 0..<np { for b in 0..<a { jtj[a * np + b] = jtj[b * np + a] } }
            // Try damped steps until χ² drops.
            var accepted = false
            for _ in 0..<10 {
                var damped = jtj
                for a in 0..<np { damped[a * np + a] *= 1 + lambda; if damped[a * np + a] == 0 { damped[a * np + a] = 1e-12 } }
                guard Self.choleskySolve(&damped, n: np, rhs: jtr, into: &step) else { lambda *= 10; continue }
                for a in 0..<np { trial[a] = p[a] + step[a] }
                trial[1] = max(trial[1], minimumSigma); trial[2] = max(trial[2], minimumSigma)
                let (c2, _) = chiSquare(trial)
                if c2 <= chi2 {
                    let relative = (chi2 - c2) / max(chi2, 1e-300)
                    var maxShift = 0.0
                    for c in 0..<k { maxShift = max(maxShift, abs(step[4 + 3 * c]), abs(step[5 + 3 * c])) }
                    p = trial; chi2 = c2
                    lambda = max(lambda / 10, 1e-9)
                    accepted = true
                    if maxShift < 1e-6 || relative < 1e-12 { converged = true }
                    break
                }
                lambda *= 10
            }
            lastGood = accepted
            if converged { break }
            if !accepted { converged = true; break }   // no downhill step left: at the minimum to machine precision
        }
        _ = lastGood
        // Covariance (JᵀJ)⁻¹ s² for the centre errors, from the last normal equations.
        let dof = Double(max(pixels - np, 1))
        let s2 = chi2 / dof
        var errors: [(x: Double, y: Double)] = []
        var inverseDiagonal = [Double](repeating: .nan, count: np)
        var unit = [Double](repeating: 0, count: np), column = unit
        for a in 3..<np where (a - 3) % 3 != 0 {
            var m = jtj
            for t in 0..<np { unit[t] = t == a ? 1 : 0 }
            if Self.choleskySolve(&m, n: np, rhs: unit, into: &column) { inverseDiagonal[a] = column[a] }
        }
        for c in 0..<k {
            errors.append(((inverseDiagonal[4 + 3 * c] * s2).squareRoot(), (inverseDiagonal[5 + 3 * c] * s2).squareRoot()))
        }
        let components = (0..<k).map { Component(x: p[4 + 3 * $0], y: p[5 + 3 * $0], flux: p[3 + 3 * $0]) }
        return Result(components: components, sigmaX: p[1], sigmaY: p[2], background: p[0],
                      residualRMS: (chi2 / Double(pixels)).squareRoot(), centreErrors: errors,
                      iterations: iterations, converged: converged)
    }

    /// Pixel-integrated unit Gaussian along one axis and its derivatives.
    @inline(__always)
    static func profile(centre: Double, sigma: Double, count: Int, value: inout [Double], dCentre: inout [Double],
                        dSigma: inout [Double], base: Int, derivatives: Bool) {
        let inv = 1 / sigma
        var tPrev = (-0.5 - centre) * inv
        var phiPrev = 0.5 * erfc(-tPrev * invSqrt2)
        var pdfPrev = invSqrt2Pi * exp(-0.5 * tPrev * tPrev)
        for i in 0..<count {
            let t = (Double(i) + 0.5 - centre) * inv
            let phi = 0.5 * erfc(-t * invSqrt2)
            value[base + i] = phi - phiPrev
            if derivatives {
                let pdf = invSqrt2Pi * exp(-0.5 * t * t)
                dCentre[base + i] = -(pdf - pdfPrev) * inv
                dSigma[base + i] = -(t * pdf - tPrev * pdfPrev) * inv
                pdfPrev = pdf
            }
            tPrev = t; phiPrev = phi
        }
    }

    /// Solves A x = b for symmetric positive-definite A (overwritten by its Cholesky factor);
    /// the array form of the pointer version the per-pixel fit uses.
    static func choleskySolve(_ a: inout [Double], n: Int, rhs: [Double], into x: inout [Double]) -> Bool {
        guard n > 0 else { return true }
        return a.withUnsafeMutableBufferPointer { a in
            rhs.withUnsafeBufferPointer { rhs in
                x.withUnsafeMutableBufferPointer { x in
                    choleskySolve(a.baseAddress!, n: n, rhs: rhs.baseAddress!, into: x.baseAddress!)
                }
            }
        }
    }
}
