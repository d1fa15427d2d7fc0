import Foundation

/// Small numerical helpers shared by the simulator.
enum SimMath {
    static let invSqrt2 = 1.0 / 2.0.squareRoot()
    static let invSqrt2Pi = 1.0 / (2.0 * Double.pi).squareRoot()
    static let fwhmToSigma = 1.0 / (2.0 * (2.0 * Foundation.log(2.0)).squareRoot())

    /// Standard normal CDF Φ(z).
    @inline(__always)
    static func phi(_ z: Double) -> Double { 0.5 * erfc(-z * invSqrt2) }

    /// Standard normal density φ(z).
    @inline(__always)
    static func density(_ z: Double) -> Double { invSqrt2Pi * Foundation.exp(-0.5 * z * z) }

    /// Antiderivative of Φ: G(z) = z Φ(z) + φ(z), so ∫_a^b Φ(t) dt = G(b) − G(a).
    @inline(__always)
    static func phiIntegral(_ z: Double) -> Double {
        if z < -9 { return 0 }
        if z > 9 { return z }
        return z * phi(z) + density(z)
    }

    /// Fraction of a unit Gaussian (centre c, sigma s) falling in [a, b].
    @inline(__always)
    static func gaussianFraction(_ a: Double, _ b: Double, centre c: Double, sigma s: Double) -> Double {
        phi((b - c) / s) - phi((a - c) / s)
    }

    /// Pixel-integrated (1-px box) top-hat [lo, hi] ⊗ Gaussian(σ) evaluated at continuous x,
    /// normalised so a pixel well inside the top-hat has value 1. Its sum over all integer x is hi − lo.
    @inline(__always)
    static func boxedTopHat(_ x: Double, lo: Double, hi: Double, sigma: Double) -> Double {
        sigma * (phiIntegral((x + 0.5 - lo) / sigma) - phiIntegral((x - 0.5 - lo) / sigma)
                 - phiIntegral((x + 0.5 - hi) / sigma) + phiIntegral((x - 0.5 - hi) / sigma))
    }

    /// Planck spectral radiance B_λ(T) up to a constant (λ in nm): λ⁻⁵ / (exp(hc/λkT) − 1), λ in µm.
    @inline(__always)
    static func planck(_ lambdaNm: Double, temperature t: Double) -> Double {
        let lum = lambdaNm * 1e-3
        let x = 14387.7688 / (lum * t)   // hc/k = 14387.77 µm K
        return 1.0 / (pow(lum, 5) * Foundation.expm1(x))
    }

    /// sinc²(πν) = (sin πν / πν)².
    @inline(__always)
    static func sinc2(_ nu: Double) -> Double {
        let a = Double.pi * nu
        if abs(a) < 1e-8 { return 1 }
        let s = Foundation.sin(a) / a
        return s * s
    }
}

/// Dense least squares by Householder QR (column-major scratch), no pivoting.
/// Solves min ‖A c − b‖ for A of shape rows × cols (rows ≥ cols). Returns nil if rank deficient.
enum HouseholderLeastSquares {
    static func solve(rows m: Int, cols n: Int, matrix aRowMajor: [Double], rhs b: [Double]) -> [Double]? {
        precondition(m >= n && aRowMajor.count == m * n && b.count == m)
        // column-major copy
        var a = [Double](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { a[j * m + i] = aRowMajor[i * n + j] } }
        var y = b
        var diag = [Double](repeating: 0, count: n)
        for k in 0..<n {
            var norm = 0.0
            for i in k..<m { norm += a[k * m + i] * a[k * m + i] }
            norm = norm.squareRoot()
            if norm == 0 { return nil }
            let alpha = a[k * m + k] > 0 ? -norm : norm
            // v = x - alpha e1, stored in column k (rows k..m-1)
            a[k * m + k] -= alpha
            var vnorm2 = 0.0
            for i in k..<m { vnorm2 += a[k * m + i] * a[k * m + i] }
            if vnorm2 > 0 {
                for j in (k + 1)..<max(k + 1, n) {
                    var dot = 0.0
                    for i in k..<m { dot += a[k * m + i] * a[j * m + i] }
                    let f = 2 * dot / vnorm2
                    for i in k..<m { a[j * m + i] -= f * a[k * m + i] }
                }
                var dot = 0.0
                for i in k..<m { dot += a[k * m + i] * y[i] }
                let f = 2 * dot / vnorm2
                for i in k..<m { y[i] -= f * a[k * m + i] }
            }
            diag[k] = alpha
        }
        // back substitution R c = Qᵀ b (R upper triangle: diag on diagonal, a[j*m+i] for i<j)
        var c = [Double](repeating: 0, count: n)
        let scale = diag.map { abs($0) }.max() ?? 1
        for k in stride(from: n - 1, through: 0, by: -1) {
            if abs(diag[k]) < 1e-13 * scale { return nil }
            var s = y[k]
            for j in (k + 1)..<max(k + 1, n) { s -= a[j * m + k] * c[j] }
            c[k] = s / diag[k]
        }
        return c
    }
}

/// Wraps a raw pointer for use inside `DispatchQueue.concurrentPerform`; every work item writes a
/// disjoint region, so sharing is safe.
struct UnsafeSendable<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}
