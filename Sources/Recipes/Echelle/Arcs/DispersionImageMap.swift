import CalibCore
import Dispatch
import Foundation

/// The 2D image map of a spatial dispersion solution (SOXSPIPE
/// `create_dispersion_map`, "2D Image Map"): three detector-sized images
/// holding for every pixel centre its wavelength (nm), slit position
/// (arcsec) and order number.
///
/// Each pixel is found by inverting X(n, λ, s) = x, Y(n, λ, s) = y with
/// Newton's method in (λ, s) for fixed n, seeded from the neighbouring pixel
/// of the same row, which converges in one or two steps, instead of SOXSPIPE's
/// brute-force grid refinement. A row of an order is entered at the slit
/// centre (s = 0, one-dimensional Newton in λ seeded from a coarse per-order
/// table) and walked outwards in x until s leaves the slit.
///
/// Pixels outside every order hold NaN (wavelength, slit) and 0 (order).
/// Newton stops at 1e-9 of the scaled variables, far below 0.001 px.
public struct DispersionImageMap: Sendable {
    public var wavelength: Image
    public var slit: Image
    public var order: Image

    /// - Parameters:
    ///   - solution: a solution with a slit variable.
    ///   - slitRange: slit positions inside the order (arcsec), e.g. ± half the slit length.
    public static func compute(_ solution: DispersionSolution, width: Int, height: Int, slitRange: ClosedRange<Double>) -> DispersionImageMap {
        precondition(solution.hasSlit, "the image map needs a spatial (multi-pinhole) solution")
        var lam = [Float](repeating: .nan, count: width * height)
        var sl = lam
        var ord = [Float](repeating: 0, count: width * height)
        let kernels = solution.orders.compactMap { n -> OrderKernel? in
            guard let limits = solution.wavelengthLimits[n] else { return nil }
            return OrderKernel(solution: solution, order: n, limits: limits, height: height)
        }
        let sLo = kernels.first.map { $0.scaleS(slitRange.lowerBound) } ?? 0
        let sHi = kernels.first.map { $0.scaleS(slitRange.upperBound) } ?? 0
        lam.withUnsafeMutableBufferPointer { lb in
            sl.withUnsafeMutableBufferPointer { sb in
                ord.withUnsafeMutableBufferPointer { ob in
                    nonisolated(unsafe) let lp = lb.baseAddress!, sp = sb.baseAddress!, op = ob.baseAddress!
                    RecipeParallelism.concurrentPerform(iterations: height) { y in
                        let yd = Double(y)
                        for k in kernels {
                            // Enter the row at the slit centre.
                            guard var a = k.seedA(row: yd) else { continue }
                            let s0 = k.scaleS(0)
                            var converged = false
                            for _ in 0..<20 {
                                let (_, yy, _, yA, _, _) = k.evaluate(a, s0)
                                let step = (yy - yd) / yA
                                guard step.isFinite else { break }
                                a -= step
                                if abs(step) < 1e-12 { converged = true; break }
                            }
                            guard converged || abs(k.evaluate(a, s0).y - yd) < 1e-6 else { continue }
                            let xc = k.evaluate(a, s0).x
                            let start = min(max(Int(xc.rounded()), 0), width - 1)
                            // Solve the starting pixel, then walk right and left from it.
                            guard let first = k.solve(x: Double(start), y: yd, from: (a, s0)) else { continue }
                            for direction in [1, -1] {
                                var current = first
                                var x = start
                                while x >= 0 && x < width {
                                    if x != start {
                                        guard let s = k.solve(x: Double(x), y: yd, from: current) else { break }
                                        current = s
                                    } else if direction == -1 {
                                        x -= 1
                                        continue
                                    }
                                    let (aa, ss) = current
                                    if ss < sLo || ss > sHi { break }
                                    let i = y * width + x
                                    if op[i] == 0 {
                                        lp[i] = Float(k.unscaleLambda(aa)); sp[i] = Float(k.unscaleS(ss)); op[i] = Float(k.order)
                                    }
                                    x += direction
                                }
                            }
                        }
                    }
                }
            }
        }
        return DispersionImageMap(wavelength: Image(width: width, height: height, pixels: lam),
                                  slit: Image(width: width, height: height, pixels: sl),
                                  order: Image(width: width, height: height, pixels: ord))
    }

    /// X and Y of one order as polynomials in the scaled (λ̂, ŝ), with the order's powers folded in.
    struct OrderKernel: Sendable {
        let order: Int
        let degA: Int, degS: Int
        /// cx[j * (degS + 1) + k], cy likewise.
        let cx: [Double], cy: [Double]
        let offA: Double, halfA: Double, offS: Double, halfS: Double
        /// λ̂ at s = 0 every `step` rows (NaN where unknown).
        var seedTable: [Double] = []
        let step = 8

        init?(solution: DispersionSolution, order: Int, limits: ClosedRange<Double>, height: Int) {
            let sx = solution.x, sy = solution.y
            // Both fits share their scaling when fitted on the same lines.
            guard sx.offsets == sy.offsets, sx.halfRanges == sy.halfRanges else { return nil }
            self.order = order
            let dA = max(sx.degrees[1], sy.degrees[1]), dS = max(sx.degrees[2], sy.degrees[2])
            degA = dA; degS = dS
            let nHat = (Double(order) - sx.offsets[0]) / sx.halfRanges[0]
            func fold(_ s: PolynomialSurface) -> [Double] {
                var out = [Double](repeating: 0, count: (dA + 1) * (dS + 1))
                var idx = 0
                for i in 0...s.degrees[0] {
                    let p = pow(nHat, Double(i))
                    for j in 0...s.degrees[1] { for k in 0...s.degrees[2] { out[j * (dS + 1) + k] += s.coefficients[idx] * p; idx += 1 } }
                }
                return out
            }
            cx = fold(sx); cy = fold(sy)
            offA = sx.offsets[1]; halfA = sx.halfRanges[1]; offS = sx.offsets[2]; halfS = sx.halfRanges[2]
            // Coarse λ̂(y) at s = 0, walking from the middle of the order's range.
            let rows = (height + step - 1) / step + 1
            var table = [Double](repeating: .nan, count: rows)
            let s0 = (0 - offS) / halfS
            var a = ((limits.lowerBound + limits.upperBound) / 2 - offA) / halfA
            let yMid = evaluateStatic(a, s0, cx: cx, cy: cy, degA: degA, degS: degS).y
            let startRow = min(max(Int((yMid / Double(step)).rounded()), 0), rows - 1)
            for direction in [1, -1] {
                var aa = a
                var r = startRow
                while r >= 0 && r < rows {
                    let target = Double(r * step)
                    var ok = false
                    for _ in 0..<30 {
                        let e = evaluateStatic(aa, s0, cx: cx, cy: cy, degA: degA, degS: degS)
                        let d = (e.y - target) / e.yA
                        guard d.isFinite else { break }
                        aa -= d
                        if abs(d) < 1e-12 { ok = true; break }
                    }
                    if !ok { break }
                    table[r] = aa
                    r += direction
                }
                a = table[startRow].isNaN ? a : table[startRow]
            }
            seedTable = table
        }

        func scaleS(_ s: Double) -> Double { (s - offS) / halfS }
        func unscaleS(_ s: Double) -> Double { s * halfS + offS }
        func unscaleLambda(_ a: Double) -> Double { a * halfA + offA }

        func seedA(row: Double) -> Double? {
            let r = row / Double(step)
            let i = min(max(Int(r.rounded(.down)), 0), seedTable.count - 2)
            let a0 = seedTable[i], a1 = seedTable[i + 1]
            if a0.isNaN && a1.isNaN { return nil }
            if a0.isNaN { return a1 }
            if a1.isNaN { return a0 }
            return a0 + (a1 - a0) * (r - Double(i))
        }

        @inline(__always)
        func evaluate(_ a: Double, _ s: Double) -> (x: Double, y: Double, xA: Double, yA: Double, xS: Double, yS: Double) {
            let e = evaluateStatic(a, s, cx: cx, cy: cy, degA: degA, degS: degS)
            return (e.x, e.y, e.xA, e.yA, e.xS, e.yS)
        }

        /// Newton in (λ̂, ŝ) for the pixel centre (x, y); nil if it diverges.
        @inline(__always)
        func solve(x: Double, y: Double, from seed: (Double, Double)) -> (Double, Double)? {
            var (a, s) = seed
            for _ in 0..<12 {
                let e = evaluateStatic(a, s, cx: cx, cy: cy, degA: degA, degS: degS)
                let fx = e.x - x, fy = e.y - y
                let det = e.xA * e.yS - e.xS * e.yA
                guard det != 0, det.isFinite else { return nil }
                let da = (fx * e.yS - fy * e.xS) / det
                let ds = (e.xA * fy - e.yA * fx) / det
                a -= da; s -= ds
                if abs(da) < 1e-9 && abs(ds) < 1e-9 { return (a, s) }
            }
            return nil
        }
    }
}

/// P(a, s) = Σⱼₖ c[j][k] aʲ sᵏ for X and Y with ∂/∂a and ∂/∂s, by Horner's rule.
@inline(__always)
func evaluateStatic(_ a: Double, _ s: Double, cx: [Double], cy: [Double], degA: Int, degS: Int)
    -> (x: Double, y: Double, xA: Double, yA: Double, xS: Double, yS: Double) {
    var x = 0.0, y = 0.0, xA = 0.0, yA = 0.0, xS = 0.0, yS = 0.0
    cx.withUnsafeBufferPointer { px in
        cy.withUnsafeBufferPointer { py in
            let w = degS + 1
            var j = degA
            while j >= 0 {
                // Inner polynomials in s and their s-derivatives.
                var qx = 0.0, qy = 0.0, dqx = 0.0, dqy = 0.0
                var k = degS
                while k >= 0 {
                    dqx = dqx * s + qx; dqy = dqy * s + qy
                    qx = qx * s + px[j * w + k]; qy = qy * s + py[j * w + k]
                    k -= 1
                }
                xA = xA * a + x; yA = yA * a + y
                x = x * a + qx; y = y * a + qy
                xS = xS * a + dqx; yS = yS * a + dqy
                j -= 1
            }
        }
    }
    return (x, y, xA, yA, xS, yS)
}
