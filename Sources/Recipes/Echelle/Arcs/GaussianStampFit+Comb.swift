import Foundation

extension GaussianStampFit {
    /// Fits K pixel-integrated Gaussians whose *relative* positions are
    /// known — the images of one arc line through the pinholes of a
    /// multi-pinhole mask — with one common offset:
    ///
    ///   m(i, j) = B + Σₖ Aₖ Gx(i − ox − rxₖ) · Gy(j − oy − ryₖ)
    ///
    /// Parameters: B, σx, σy, ox, oy and the K fluxes Aₖ (ADU).
    ///
    /// Why rigid: SIMECH's pinholes are 1.5″ apart, 1.1 PSF FWHM, whatever
    /// the binning (both scale with the pixel), so seven free centres along
    /// the slit are nearly degenerate with each other and with σx; a
    /// free-centre fit scatters them by ~0.1 px in x. The relative positions
    /// come from the static map, which is off tonight by the displacement's
    /// rotation and scale over the comb's span only: ≤ 0.04° × 5 px and
    /// 3·10⁻⁴ × 10 px, i.e. ≤ 0.004 px at any binning — a fifth of the
    /// 0.02 px budget — so they are held fixed and only the comb moves.
    ///
    /// - Parameters:
    ///   - relative: each image's position relative to the comb's reference, px.
    ///   - origin: first guess of the reference in stamp pixels.
    ///   - fluxes: first guesses of the K fluxes, ADU.
    ///   - sigma: the PSF σ, px (both axes).
    ///   - holdWidths: keep σ at `sigma`. For undersampled images (σ ≲ ½ px,
    ///     e.g. SIMECH binned 8×8) a pixel-integrated profile hardly depends
    ///     on σ, so a free σ wanders without converging; the PSF's known
    ///     width is the better model there.
    /// - Returns: components at origin + offset + relative; the centre errors
    ///   are the common offset's (identical for all K). nil when singular.
    public func fitComb(stamp: UnsafeBufferPointer<Float>, width: Int, height: Int, relative: [(x: Double, y: Double)],
                        origin: (x: Double, y: Double), fluxes: [Double], sigma: Double, holdWidths: Bool = false) -> Result? {
        let k = relative.count
        guard k > 0, fluxes.count == k else { return nil }
        let np = 5 + k
        var p = [Double](repeating: 0, count: np)
        p[1] = sigma; p[2] = sigma; p[3] = origin.x; p[4] = origin.y
        for c in 0..<k { p[5 + c] = fluxes[c] }
        var gx = [Double](repeating: 0, count: k * width), dgxC = gx, dgxS = gx
        var gy = [Double](repeating: 0, count: k * height), dgyC = gy, dgyS = gy
        var jtj = [Double](repeating: 0, count: np * np), jtr = [Double](repeating: 0, count: np)
        var row = [Double](repeating: 0, count: np)
        var trial = p, step = p
        var lambda = 1e-3

        func profiles(_ q: [Double], derivatives: Bool) {
            for c in 0..<k {
                Self.profile(centre: q[3] + relative[c].x, sigma: q[1], count: width, value: &gx, dCentre: &dgxC, dSigma: &dgxS,
                             base: c * width, derivatives: derivatives)
                Self.profile(centre: q[4] + relative[c].y, sigma: q[2], count: height, value: &gy, dCentre: &dgyC, dSigma: &dgyS,
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
                    for c in 0..<k { m += q[5 + c] * gx[c * width + i] * gy[c * height + j] }
                    let r = Double(d) - m
                    chi2 += r * r; n += 1
                }
            }
            return (chi2, n)
        }

        var (chi2, pixels) = chiSquare(p)
        guard pixels > np else { return nil }
        var iterations = 0, converged = false
        while iterations < maxIterations {
            iterations += 1
            profiles(p, derivatives: true)
            for t in 0..<(np * np) { jtj[t] = 0 }
            for t in 0..<np { jtr[t] = 0 }
            for j in 0..<height {
                for i in 0..<width {
                    let d = stamp[j * width + i]
                    if d.isNaN { continue }
                    var m = p[0]
                    row[0] = 1; row[1] = 0; row[2] = 0; row[3] = 0; row[4] = 0
                    for c in 0..<k {
                        let a = p[5 + c]
                        let vx = gx[c * width + i], vy = gy[c * height + j]
                        m += a * vx * vy
                        row[1] += a * dgxS[c * width + i] * vy
                        row[2] += a * vx * dgyS[c * height + j]
                        row[3] += a * dgxC[c * width + i] * vy
                        row[4] += a * vx * dgyC[c * height + j]
                        row[5 + c] = vx * vy
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
            if holdWidths {
                for a in 1...2 {
                    for b in 0..<np { jtj[a * np + b] = 0; jtj[b * np + a] = 0 }
                    jtj[a * np + a] = 1; jtr[a] = 0
                }
            }
            var accepted = false
            for _ in 0..<10 {
                var damped = jtj
                for a in 0..<np { damped[a * np + a] *= 1 + lambda; if damped[a * np + a] == 0 { damped[a * np + a] = 1e-12 } }
                guard Self.choleskySolve(&damped, n: np, rhs: jtr, into: &step) else { lambda *= 10; continue }
                for a in 0..<np { trial[a] = p[a] + step[a] }
                trial[1] = max(trial[1], minimumSigma); trial[2] = max(trial[2], minimumSigma)
                let (c2, _) = chiSquare(trial)
                if c2 <= chi2 {
                    let relativeDrop = (chi2 - c2) / max(chi2, 1e-300)
                    let maxShift = max(abs(step[3]), abs(step[4]))
                    p = trial; chi2 = c2
                    lambda = max(lambda / 10, 1e-9)
                    accepted = true
                    if maxShift < 1e-5 || relativeDrop < 1e-9 { converged = true }   // 1e-5 px: 1/1000 of the budget
                    break
                }
                lambda *= 10
            }
            if converged { break }
            if !accepted { converged = true; break }   // no downhill step left: at the minimum to machine precision
        }
        let s2 = chi2 / Double(max(pixels - np, 1))
        var inverse = [Double](repeating: .nan, count: np)
        var unit = [Double](repeating: 0, count: np), column = unit
        for a in 3...4 {
            var m = jtj
            for t in 0..<np { unit[t] = t == a ? 1 : 0 }
            if Self.choleskySolve(&m, n: np, rhs: unit, into: &column) { inverse[a] = column[a] }
        }
        let error = ((inverse[3] * s2).squareRoot(), (inverse[4] * s2).squareRoot())
        let components = (0..<k).map { Component(x: p[3] + relative[$0].x, y: p[4] + relative[$0].y, flux: p[5 + $0]) }
        return Result(components: components, sigmaX: p[1], sigmaY: p[2], background: p[0],
                      residualRMS: (chi2 / Double(pixels)).squareRoot(), centreErrors: Array(repeating: error, count: k),
                      iterations: iterations, converged: converged)
    }
}
