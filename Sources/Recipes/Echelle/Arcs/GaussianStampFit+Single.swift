import Foundation

extension GaussianStampFit {
    /// The fit of one line: what `Result` holds for K = 1, without arrays.
    struct SingleResult {
        var component: Component
        var sigmaX: Double
        var sigmaY: Double
        var background: Double
        /// RMS of data − model over the window, ADU.
        var residualRMS: Double
        /// 1σ uncertainty of the centre from the covariance, px.
        var centreError: (x: Double, y: Double)
        var iterations: Int
        var converged: Bool
    }

    /// Fits one pixel-integrated Gaussian plus a constant background — the
    /// model, parameters, damping schedule and stopping rules of
    /// `fit(stamp:…)` with one component, so the results agree with it to
    /// rounding — but builds the normal equations from one-dimensional sums.
    ///
    /// Why this is exact: every column of the Jacobian is a product
    /// u(i)·v(j) of an x factor (1, Gx, ∂Gx/∂σx, ∂Gx/∂x) and a y factor
    /// (1, Gy, ∂Gy/∂σy, ∂Gy/∂y), because the model is B + A·Gx(i)·Gy(j). So
    /// JᵀJ[a, b] = (Σᵢ uₐu_b)(Σⱼ vₐv_b), Jᵀm is made of the same sums, and
    /// Jᵀd needs only the data projected on the four y factors, Tq(i) =
    /// Σⱼ d(i, j)·Yq(j): 3 multiply-adds per pixel per iteration instead of
    /// the ~30 of accumulating a 6 × 6 outer product per pixel. χ² of each
    /// trial step is still summed pixel by pixel (its cancellation-free form
    /// decides the step acceptance). NaN pixels are zero in the sums and
    /// their (few) contributions are subtracted from JᵀJ, Jᵀm and χ², which
    /// is the same as leaving them out.
    ///
    /// - Parameters:
    ///   - pixels: the window's first pixel; rows `rowStride` apart, `width × height` pixels, ADU.
    ///   - initial: first guess in window pixels (pixel centres at integers).
    ///   - sigma: first guess of σ in px (both axes).
    /// - Returns: nil when no more pixels than parameters are finite.
    func fitSingle(pixels: UnsafePointer<Float>, rowStride: Int, width w: Int, height h: Int, initial: Component, sigma: Double,
                   background: Double = 0, workspace ws: LineFindingWorkspace) -> SingleResult? {
        ws.reserve(pixels: w * h, side: max(w, h))
        let d = ws.data, nan = ws.nanIndices
        var nanCount = 0
        for j in 0..<h {
            for i in 0..<w {
                let v = pixels[j * rowStride + i]
                if v.isNaN { d[j * w + i] = 0; nan[nanCount] = j * w + i; nanCount += 1 } else { d[j * w + i] = Double(v) }
            }
        }
        let count = w * h - nanCount
        guard count > 6 else { return nil }
        // Profile values at the current parameters and at the trial step; an accepted step's values
        // are the next normal equations' values, so they are swapped in rather than recomputed.
        var gx = ws.gx, gy = ws.gy, gxTrial = ws.gxTrial, gyTrial = ws.gyTrial
        let dgxC = ws.dgxC, dgxS = ws.dgxS, dgyC = ws.dgyC, dgyS = ws.dgyS
        let t0 = ws.t0, t1 = ws.t1, t2 = ws.t2, t3 = ws.t3
        // T0(i) = Σⱼ d(i, j) does not change between iterations.
        for i in 0..<w { t0[i] = 0 }
        for j in 0..<h { for i in 0..<w { t0[i] += d[j * w + i] } }

        let p = ws.parameters, trial = ws.trial, step = ws.step, jtr = ws.jtr, jtj = ws.jtj, damped = ws.damped
        p[0] = background; p[1] = sigma; p[2] = sigma; p[3] = initial.flux; p[4] = initial.x; p[5] = initial.y

        func chiSquare(_ q: UnsafeMutablePointer<Double>, _ gx: UnsafeMutablePointer<Double>, _ gy: UnsafeMutablePointer<Double>) -> Double {
            Self.profileValues(centre: q[4], sigma: q[1], count: w, into: gx)
            Self.profileValues(centre: q[5], sigma: q[2], count: h, into: gy)
            let b = q[0], a = q[3]
            var chi2 = 0.0
            for j in 0..<h {
                let ay = a * gy[j]
                let row = d + j * w
                for i in 0..<w {
                    let r = row[i] - (b + ay * gx[i])
                    chi2 += r * r
                }
            }
            for k in 0..<nanCount {
                let i = nan[k] % w, j = nan[k] / w
                let m = b + a * gx[i] * gy[j]
                chi2 -= m * m
            }
            return max(chi2, 0)
        }
        // Column c of the Jacobian = scale[c] · X[xFactor[c]](i) · Y[yFactor[c]](j), parameters (B, σx, σy, A, x, y),
        // with X = (1, ∂Gx/∂σx, Gx, ∂Gx/∂x) and Y = (1, Gy, ∂Gy/∂σy, ∂Gy/∂y).
        let xFactor = SIMD8<Int>(0, 1, 2, 2, 3, 2, 0, 0), yFactor = SIMD8<Int>(0, 1, 2, 1, 1, 3, 0, 0)
        let sx = ws.sumsX, sy = ws.sumsY, dx = ws.dataSums
        func normalEquations() {
            Self.profileDerivatives(centre: p[4], sigma: p[1], count: w, dCentre: dgxC, dSigma: dgxS)
            Self.profileDerivatives(centre: p[5], sigma: p[2], count: h, dCentre: dgyC, dSigma: dgyS)
            let a = p[3], b = p[0]
            let scale = SIMD8<Double>(1, a, a, 1, a, a, 0, 0)
            Self.crossSums(dgxS, gx, dgxC, count: w, into: sx)
            Self.crossSums(gy, dgyS, dgyC, count: h, into: sy)
            // Data projected on the y factors, then on the x factors: dx[u·4 + q] = Σᵢ Xu(i) Tq(i).
            for i in 0..<w { t1[i] = 0; t2[i] = 0; t3[i] = 0 }
            for j in 0..<h {
                let y1 = gy[j], y2 = dgyS[j], y3 = dgyC[j]
                let row = d + j * w
                for i in 0..<w {
                    let v = row[i]
                    t1[i] += v * y1; t2[i] += v * y2; t3[i] += v * y3
                }
            }
            for t in 0..<16 { dx[t] = 0 }
            for i in 0..<w {
                let xs = SIMD4<Double>(1, dgxS[i], gx[i], dgxC[i])
                dx[0] += t0[i]
                for u in 1..<4 { dx[u * 4 + 1] += xs[u] * t1[i] }
                dx[2 * 4 + 2] += gx[i] * t2[i]; dx[2 * 4 + 3] += gx[i] * t3[i]
            }
            for c in 0..<6 {
                let uc = xFactor[c], vc = yFactor[c]
                for e in c..<6 { jtj[c * 6 + e] = scale[c] * scale[e] * sx[uc * 4 + xFactor[e]] * sy[vc * 4 + yFactor[e]] }
                // Jᵀm over the whole window, m = B·X0·Y0 + A·X2·Y1.
                let model = b * sx[uc * 4] * sy[vc * 4] + a * sx[uc * 4 + 2] * sy[vc * 4 + 1]
                jtr[c] = scale[c] * (dx[uc * 4 + vc] - model)
            }
            // Leave the NaN pixels out.
            for k in 0..<nanCount {
                let i = nan[k] % w, j = nan[k] / w
                let xs = SIMD4<Double>(1, dgxS[i], gx[i], dgxC[i]), ys = SIMD4<Double>(1, gy[j], dgyS[j], dgyC[j])
                var column = SIMD8<Double>()
                for c in 0..<6 { column[c] = scale[c] * xs[xFactor[c]] * ys[yFactor[c]] }
                let m = b + a * gx[i] * gy[j]
                for c in 0..<6 {
                    jtr[c] += column[c] * m
                    for e in c..<6 { jtj[c * 6 + e] -= column[c] * column[e] }
                }
            }
            for c in 0..<6 { for e in 0..<c { jtj[c * 6 + e] = jtj[e * 6 + c] } }
        }

        var chi2 = chiSquare(p, gx, gy)
        var lambda = 1e-3
        var iterations = 0, converged = false
        while iterations < maxIterations {
            iterations += 1
            normalEquations()
            // Try damped steps until χ² drops.
            var accepted = false
            for _ in 0..<10 {
                damped.update(from: jtj, count: 36)
                for a in 0..<6 { damped[a * 6 + a] *= 1 + lambda; if damped[a * 6 + a] == 0 { damped[a * 6 + a] = 1e-12 } }
                guard Self.choleskySolve(damped, n: 6, rhs: jtr, into: step) else { lambda *= 10; continue }
                for a in 0..<6 { trial[a] = p[a] + step[a] }
                trial[1] = max(trial[1], minimumSigma); trial[2] = max(trial[2], minimumSigma)
                let c2 = chiSquare(trial, gxTrial, gyTrial)
                if c2 <= chi2 {
                    swap(&gx, &gxTrial); swap(&gy, &gyTrial)
                    let relative = (chi2 - c2) / max(chi2, 1e-300)
                    let maxShift = max(abs(step[4]), abs(step[5]))
                    p.update(from: trial, count: 6); chi2 = c2
                    lambda = max(lambda / 10, 1e-9)
                    accepted = true
                    if maxShift < 1e-6 || relative < 1e-12 { converged = true }
                    break
                }
                lambda *= 10
            }
            if converged { break }
            if !accepted { converged = true; break }   // no downhill step left: at the minimum to machine precision
        }
        // Covariance (JᵀJ)⁻¹ s² for the centre errors, from the last normal equations.
        let s2 = chi2 / Double(max(count - 6, 1))
        var inverse = (Double.nan, Double.nan)
        for a in 4...5 {
            damped.update(from: jtj, count: 36)
            for t in 0..<6 { ws.unit[t] = t == a ? 1 : 0 }
            if Self.choleskySolve(damped, n: 6, rhs: ws.unit, into: ws.column) {
                if a == 4 { inverse.0 = ws.column[a] } else { inverse.1 = ws.column[a] }
            }
        }
        return SingleResult(component: Component(x: p[4], y: p[5], flux: p[3]), sigmaX: p[1], sigmaY: p[2], background: p[0],
                            residualRMS: (chi2 / Double(count)).squareRoot(),
                            centreError: ((inverse.0 * s2).squareRoot(), (inverse.1 * s2).squareRoot()),
                            iterations: iterations, converged: converged)
    }

    /// s[u·4 + v] = Σₖ Fu(k)·Fv(k) for F = (1, f1, f2, f3), symmetric 4 × 4.
    @inline(__always)
    static func crossSums(_ f1: UnsafePointer<Double>, _ f2: UnsafePointer<Double>, _ f3: UnsafePointer<Double>, count: Int,
                          into s: UnsafeMutablePointer<Double>) {
        var one = SIMD4<Double>(), two = SIMD4<Double>(), three = SIMD4<Double>()
        for k in 0..<count {
            let f = SIMD4<Double>(1, f1[k], f2[k], f3[k])
            one += f1[k] * f; two += f2[k] * f; three += f3[k] * f
        }
        s[0] = Double(count); s[1] = one[0]; s[2] = two[0]; s[3] = three[0]
        for v in 0..<4 { s[4 + v] = one[v]; s[8 + v] = two[v]; s[12 + v] = three[v] }
    }

    /// Pixel-integrated unit Gaussian along one axis: value[i] = Φ((i + ½ − centre)/σ) − Φ((i − ½ − centre)/σ).
    @inline(__always)
    static func profileValues(centre: Double, sigma: Double, count: Int, into value: UnsafeMutablePointer<Double>) {
        let inv = 1 / sigma
        var phiPrev = 0.5 * erfc(-((-0.5 - centre) * inv) * invSqrt2)
        for i in 0..<count {
            let t = (Double(i) + 0.5 - centre) * inv
            let phi = 0.5 * erfc(-t * invSqrt2)
            value[i] = phi - phiPrev
            phiPrev = phi
        }
    }

    /// Derivatives of `profileValues` with respect to the centre and σ (as
    /// `profile(…inout [Double]…)`). The density at the pixel edges, which
    /// are equally spaced in t = (edge − centre)/σ by Δ = 1/σ, follows from
    /// φ(t + Δ) = φ(t)·e^(−tΔ − Δ²/2): two multiplications per edge instead
    /// of an exp, started at the edge nearest the centre and run outwards
    /// so that it only ever decreases (no overflow; it underflows to 0 as
    /// exp would). Relative error ≲ 10⁻¹⁵ over a stamp.
    @inline(__always)
    static func profileDerivatives(centre: Double, sigma: Double, count: Int, dCentre: UnsafeMutablePointer<Double>,
                                   dSigma: UnsafeMutablePointer<Double>) {
        // A diverging fit's centre may be NaN or ±∞: NaN derivatives make the step's Cholesky fail, as exp would.
        guard centre.isFinite, sigma.isFinite else {
            for i in 0..<count { dCentre[i] = .nan; dSigma[i] = .nan }
            return
        }
        let inv = 1 / sigma
        // Edge e (0...count) is at e − ½. φ at the edges, into dSigma temporarily: dSigma[e] for e < count, the last edge in `last`.
        // (Clamped as a Double first: a far-off finite centre must not overflow the Int conversion.)
        let nearest = Int(min(max((centre + 0.5).rounded(), 0), Double(count)))
        let tNearest = (Double(nearest) - 0.5 - centre) * inv
        let pdfNearest = invSqrt2Pi * exp(-0.5 * tNearest * tNearest)
        let shrink = exp(-inv * inv)
        var last = 0.0
        @inline(__always) func store(_ e: Int, _ v: Double) { if e == count { last = v } else { dSigma[e] = v } }
        store(nearest, pdfNearest)
        var pdf = pdfNearest, ratio = exp(-tNearest * inv - 0.5 * inv * inv)   // φ(t + Δ)/φ(t) at t = tNearest
        if nearest < count {
            for e in (nearest + 1)...count { pdf *= ratio; ratio *= shrink; store(e, pdf) }
        }
        pdf = pdfNearest; ratio = exp(tNearest * inv - 0.5 * inv * inv)     // φ(t − Δ)/φ(t)
        if nearest > 0 {
            for e in stride(from: nearest - 1, through: 0, by: -1) { pdf *= ratio; ratio *= shrink; store(e, pdf) }
        }
        // Derivatives from the edge densities (pixel i between edges i and i + 1), in ascending order so that
        // dSigma[i] is read before it is overwritten.
        var tPrev = (-0.5 - centre) * inv
        for i in 0..<count {
            let t = (Double(i) + 0.5 - centre) * inv
            let pdfPrev = dSigma[i], pdfNext = i + 1 < count ? dSigma[i + 1] : last
            dCentre[i] = -(pdfNext - pdfPrev) * inv
            dSigma[i] = -(t * pdfNext - tPrev * pdfPrev) * inv
            tPrev = t
        }
    }

    /// `choleskySolve` on caller-owned memory: solves A x = b for symmetric positive-definite
    /// n × n A (overwritten by its Cholesky factor); false when A is not positive definite.
    static func choleskySolve(_ a: UnsafeMutablePointer<Double>, n: Int, rhs: UnsafePointer<Double>, into x: UnsafeMutablePointer<Double>) -> Bool {
        for j in 0..<n {
            var d = a[j * n + j]
            for t in 0..<j { d -= a[j * n + t] * a[j * n + t] }
            guard d > 0, d.isFinite else { return false }
            let l = d.squareRoot()
            a[j * n + j] = l
            for i in (j + 1)..<max(n, j + 1) {
                var s = a[i * n + j]
                for t in 0..<j { s -= a[i * n + t] * a[j * n + t] }
                a[i * n + j] = s / l
            }
        }
        for i in 0..<n {
            var s = rhs[i]
            for t in 0..<i { s -= a[i * n + t] * x[t] }
            x[i] = s / a[i * n + i]
        }
        for i in stride(from: n - 1, through: 0, by: -1) {
            var s = x[i]
            for t in (i + 1)..<max(n, i + 1) { s -= a[t * n + i] * x[t] }
            x[i] = s / a[i * n + i]
        }
        return true
    }
}
