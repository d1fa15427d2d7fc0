import CalibCore
import CGSL
import Dispatch
import Foundation

/// The scattered-light (intra-order) background of a combined flat, after the
/// reference's soxs_mflat "subtract_background": the orders are masked with
/// the traced edges plus a margin, each detector row's inter-order pixels are
/// fitted with a 1D B-spline (σ-clipped), the rows stacked into a background
/// image, and that image smoothed with a 2D Gaussian of σ `smoothSigma`.
///
/// The B-spline basis comes from GSL (`gsl_bspline_*`, uniform breakpoints
/// over the row) and the smoothing from GSL's Gaussian filter
/// (`gsl_filter_gaussian`, edges padded with the end value). A second
/// difference penalty on the coefficients (a P-spline, Eilers & Marx 1996,
/// Stat. Sci. 11, 89) with a weight 10⁻³ of the data's makes the fit defined
/// where a knot span has no inter-order pixel (a wide order): there the
/// spline bridges the gap linearly instead of failing.
///
/// Because the row fit is linear in its coefficients, the background is
/// B(x, y) = Σⱼ cⱼ(y) Bⱼ(x), and smoothing it with a separable Gaussian equals
/// smoothing each coefficient series cⱼ(y) along y and each basis function
/// Bⱼ(x) along x: the 2D smoothing costs p filters of the height and p of the
/// width (p coefficients) instead of two passes over the whole image.
///
/// Masking: orders from one below the first traced order to one above the
/// last are masked (the global edge polynomials extrapolated by one order),
/// so orders cut by the detector's side are not taken for background.
///
/// Units: the image's (ADU). NaN pixels are ignored. A row with fewer than
/// `2 (degree + 1)` usable pixels takes its coefficients linearly from the
/// nearest fitted rows (counted in `failedRows`); with no row fitted the
/// background is zero.
public struct IntraOrderBackground: Sendable {
    /// Polynomial degree of the B-spline pieces (3: cubic).
    public var degree: Int
    /// Uniform breakpoints across a row, ends included (≥ 2).
    public var breakpoints: Int
    /// Pixels beyond each fitted order edge also left out of the fit (the PSF wings). `MasterFlat`
    /// replaces 0 by its measured plateau margin.
    public var margin: Double
    public var clipSigma: Double
    public var clipIterations: Int
    /// σ of the Gaussian smoothing the background image, pixels (0: none).
    public var smoothSigma: Double
    /// Smallest σ the clipping uses (ADU): the combined frame's read noise, so that a
    /// nearly noise-free row does not clip its own tiny model misfit away.
    public var noiseFloor: Double

    public init(degree: Int = 3, breakpoints: Int = 12, margin: Double = 3, clipSigma: Double = 3, clipIterations: Int = 5,
                smoothSigma: Double = 10, noiseFloor: Double = 0) {
        precondition(degree >= 0 && breakpoints >= 2, "B-spline degree \(degree) ≥ 0 and breakpoints \(breakpoints) ≥ 2")
        self.degree = degree; self.breakpoints = breakpoints; self.margin = margin
        self.clipSigma = clipSigma; self.clipIterations = clipIterations; self.smoothSigma = smoothSigma
        self.noiseFloor = noiseFloor
    }

    public struct Result: Sendable {
        /// The smoothed background, same size and unit as the input.
        public var background: Image
        /// Rows whose fit had too few inter-order pixels (interpolated from their neighbours).
        public var failedRows: Int
        /// Median number of inter-order pixels kept per row after clipping.
        public var medianSamplesPerRow: Double
        /// Median over rows of the robust σ of the kept pixels about the row's fit (ADU).
        public var residualSigma: Double
        /// The margin used beyond the order edges, pixels.
        public var margin: Double
    }

    static let penaltyWeight = 1e-3

    /// Fits the background of `image` between the orders of `geometry` (which must have edges).
    public func fit(_ image: Image, geometry: OrderGeometry) -> Result {
        precondition(geometry.lowerEdge != nil && geometry.upperEdge != nil, "the background needs the traced order edges")
        _ = SincBlazeFit.errorHandlerOff
        let width = image.width, height = image.height
        let k = degree + 1
        let basis = Self.basis(width: width, order: k, breakpoints: breakpoints)
        let p = basis.coefficients
        var coefficients = [Double](repeating: .nan, count: height * p)
        var samples = [Double](repeating: 0, count: height)
        var sigmas = [Double](repeating: .nan, count: height)
        let maskedOrders = geometry.orders.isEmpty ? [] : Array((geometry.orders.first! - 1)...(geometry.orders.last! + 1))
        let masks = Self.maskedColumns(geometry: geometry, orders: maskedOrders, height: height, margin: margin)
        // Chunks of whole rows covering the height exactly (64 chunks of ⌈2000/64⌉ = 32 rows would start the last past row 2000).
        let rowsPerChunk = (height + max(1, min(64, height / 16)) - 1) / max(1, min(64, height / 16))
        let chunks = (height + rowsPerChunk - 1) / rowsPerChunk
        image.pixels.withUnsafeBufferPointer { pixels in
            coefficients.withUnsafeMutableBufferPointer { coefficientsOut in
            samples.withUnsafeMutableBufferPointer { samplesOut in
            sigmas.withUnsafeMutableBufferPointer { sigmasOut in
                nonisolated(unsafe) let pixels = pixels, coefficientsOut = coefficientsOut
                nonisolated(unsafe) let samplesOut = samplesOut, sigmasOut = sigmasOut
                RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                    let fitter = RowFitter(basis: basis, width: width, clipSigma: clipSigma, clipIterations: clipIterations, noiseFloor: noiseFloor)
                    defer { fitter.deallocate() }
                    for y in (chunk * rowsPerChunk)..<min(height, (chunk + 1) * rowsPerChunk) {
                        fitter.unmaskAll()
                        for m in maskedOrders.indices { fitter.mask(from: masks.from[m * height + y], to: masks.to[m * height + y]) }
                        let row = UnsafeBufferPointer(rebasing: pixels[(y * width)..<((y + 1) * width)])
                        if let fit = fitter.fit(row) {
                            for j in 0..<p { coefficientsOut[y * p + j] = fit.coefficients[j] }
                            samplesOut[y] = Double(fit.kept); sigmasOut[y] = fit.sigma
                        }
                    }
                }
            }}}
        }
        let failed = Self.fillFailedRows(&coefficients, rows: height, coefficients: p)
        let background = Self.evaluate(coefficients: coefficients, basis: basis, width: width, height: height, smoothSigma: smoothSigma)
        let fitted = sigmas.filter { !$0.isNaN }.map { Float($0) }
        return Result(background: background, failedRows: failed,
                      medianSamplesPerRow: RobustStatistics.median(samples.map { Float($0) }),
                      residualSigma: fitted.isEmpty ? .nan : RobustStatistics.median(fitted), margin: margin)
    }

    /// Per masked order (index k) and row, the columns [from, to] to leave out: the edges
    /// widened by `margin`. The edge polynomials are evaluated every 8 rows and interpolated
    /// linearly between (the edges' curvature makes that exact to < 0.001 px at 4096 rows).
    static func maskedColumns(geometry: OrderGeometry, orders: [Int], height: Int, margin: Double) -> (from: [Double], to: [Double]) {
        let lowerEdge = geometry.lowerEdge!, upperEdge = geometry.upperEdge!
        var from = [Double](repeating: 0, count: orders.count * height), to = from
        let step = 8
        for (k, order) in orders.enumerated() {
            var previous: (y: Int, a: Double, b: Double)?
            for y in Array(stride(from: 0, to: height, by: step)) + (height > 1 && (height - 1) % step != 0 ? [height - 1] : []) {
                let e1 = lowerEdge.evaluate(Double(order), Double(y)), e2 = upperEdge.evaluate(Double(order), Double(y))
                let a = min(e1, e2) - margin, b = max(e1, e2) + margin
                if let p = previous {
                    for r in p.y...y {
                        let t = Double(r - p.y) / Double(y - p.y)
                        from[k * height + r] = p.a + t * (a - p.a); to[k * height + r] = p.b + t * (b - p.b)
                    }
                } else {
                    from[k * height + y] = a; to[k * height + y] = b
                }
                previous = (y, a, b)
            }
        }
        return (from, to)
    }

    /// The B-spline basis at every column: `order` non-zero values from `start[x]`.
    struct Basis: Sendable {
        var order: Int
        var coefficients: Int
        var start: [Int]
        /// values[x * order + i] is B_{start[x] + i}(x).
        var values: [Double]

        /// Basis function j at every column (dense).
        func column(_ j: Int) -> [Double] {
            let width = start.count
            var out = [Double](repeating: 0, count: width)
            for x in 0..<width where j >= start[x] && j < start[x] + order { out[x] = values[x * order + j - start[x]] }
            return out
        }
    }

    /// GSL's B-splines of `order` (degree + 1) on uniform breakpoints over [−½, width − ½].
    static func basis(width: Int, order: Int, breakpoints: Int) -> Basis {
        let workspace = gsl_bspline_alloc(order, breakpoints)!
        defer { gsl_bspline_free(workspace) }
        gsl_bspline_knots_uniform(-0.5, Double(width) - 0.5, workspace)
        let p = Int(gsl_bspline_ncoeffs(workspace))
        let bk = gsl_vector_alloc(order)!
        defer { gsl_vector_free(bk) }
        var start = [Int](repeating: 0, count: width), values = [Double](repeating: 0, count: width * order)
        for x in 0..<width {
            var first = 0, last = 0
            gsl_bspline_eval_nonzero(Double(x), bk, &first, &last, workspace)
            start[x] = first
            for i in 0..<order { values[x * order + i] = gsl_vector_get(bk, i) }
        }
        return Basis(order: order, coefficients: p, start: start, values: values)
    }

    /// Rows without a fit take their coefficients by linear interpolation between
    /// the nearest fitted rows (constant beyond the first and last). Returns their count.
    static func fillFailedRows(_ c: inout [Double], rows: Int, coefficients p: Int) -> Int {
        let good = (0..<rows).filter { !c[$0 * p].isNaN }
        guard !good.isEmpty else {
            for i in c.indices { c[i] = 0 }
            return rows
        }
        var next = 0
        for y in 0..<rows where c[y * p].isNaN {
            while next < good.count && good[next] < y { next += 1 }
            let below = next > 0 ? good[next - 1] : nil, above = next < good.count ? good[next] : nil
            for j in 0..<p {
                switch (below, above) {
                case let (b?, a?):
                    let t = Double(y - b) / Double(a - b)
                    c[y * p + j] = (1 - t) * c[b * p + j] + t * c[a * p + j]
                case let (b?, nil): c[y * p + j] = c[b * p + j]
                case let (nil, a?): c[y * p + j] = c[a * p + j]
                default: break
                }
            }
        }
        return rows - good.count
    }

    /// The background image Σⱼ c̃ⱼ(y) B̃ⱼ(x), tildes marking the Gaussian-smoothed coefficient
    /// series (along y) and basis functions (along x).
    static func evaluate(coefficients c: [Double], basis: Basis, width: Int, height: Int, smoothSigma: Double) -> Image {
        let p = basis.coefficients
        // Smoothed coefficient series, stored per row as before.
        var smoothed = c
        var columns = (0..<p).map { basis.column($0) }
        if smoothSigma > 0 {
            for j in 0..<p {
                let series = gaussianSmooth((0..<height).map { c[$0 * p + j] }, sigma: smoothSigma)
                for y in 0..<height { smoothed[y * p + j] = series[y] }
                columns[j] = gaussianSmooth(columns[j], sigma: smoothSigma)
            }
        }
        // Each basis function's support (compact even after smoothing: the kernel is truncated), so
        // that a row is built function by function over contiguous columns, which vectorises.
        var supports: [Range<Int>] = []
        var table = [Float](repeating: 0, count: p * width)
        for j in 0..<p {
            let nonzero = columns[j].indices.filter { columns[j][$0] != 0 }
            supports.append((nonzero.first ?? 0)..<((nonzero.last ?? -1) + 1))
            for x in 0..<width { table[j * width + x] = Float(columns[j][x]) }
        }
        var out = [Float](repeating: 0, count: width * height)
        // Chunks of whole rows covering the height exactly (64 chunks of ⌈2000/64⌉ = 32 rows would start the last past row 2000).
        let rowsPerChunk = (height + max(1, min(64, height / 16)) - 1) / max(1, min(64, height / 16))
        let chunks = (height + rowsPerChunk - 1) / rowsPerChunk
        smoothed.withUnsafeBufferPointer { coeffs in
            table.withUnsafeBufferPointer { table in
                out.withUnsafeMutableBufferPointer { out in
                    nonisolated(unsafe) let coeffs = coeffs, table = table, out = out
                    let supports = supports
                    RecipeParallelism.concurrentPerform(iterations: chunks) { chunk in
                        for y in (chunk * rowsPerChunk)..<min(height, (chunk + 1) * rowsPerChunk) {
                            let row = out.baseAddress! + y * width
                            for j in 0..<p where !supports[j].isEmpty {
                                let c = Float(coeffs[y * p + j]), column = table.baseAddress! + j * width
                                for x in supports[j] { row[x] += c * column[x] }
                            }
                        }
                    }
                }
            }
        }
        return Image(width: width, height: height, pixels: out)
    }

    /// GSL's Gaussian filter of standard deviation `sigma` samples, window ±4σ,
    /// the series extended by its end values.
    static func gaussianSmooth(_ v: [Double], sigma: Double) -> [Double] {
        guard sigma > 0, v.count > 1 else { return v }
        let half = max(1, Int((4 * sigma).rounded(.up)))
        let window = 2 * half + 1
        let alpha = Double(window - 1) / (2 * sigma)   // GSL's σ = (K − 1) / (2α)
        let workspace = gsl_filter_gaussian_alloc(window)!
        defer { gsl_filter_gaussian_free(workspace) }
        let x = gsl_vector_alloc(v.count)!, y = gsl_vector_alloc(v.count)!
        defer { gsl_vector_free(x); gsl_vector_free(y) }
        for i in v.indices { gsl_vector_set(x, i, v[i]) }
        gsl_filter_gaussian(GSL_FILTER_END_PADVALUE, alpha, 0, x, y, workspace)
        return v.indices.map { gsl_vector_get(y, $0) }
    }
}

/// One row's penalised, σ-clipped least-squares B-spline fit. Scratch is allocated once
/// per worker and reused across rows (release with `deallocate()`); the hot loops run on
/// raw pointers because a 4096² flat has ~8 million inter-order pixels fitted several times.
private struct RowFitter {
    let order: Int
    let coefficients: Int
    let width: Int
    let clipSigma: Double
    let clipIterations: Int
    let noiseFloor: Double
    let start: UnsafeMutablePointer<Int>
    let values: UnsafeMutablePointer<Double>
    /// 1: outside every masked order; then 1 while kept by the clipping.
    let usable: UnsafeMutablePointer<UInt8>
    let kept: UnsafeMutablePointer<UInt8>
    let residuals: UnsafeMutablePointer<Float>
    let scratch: UnsafeMutablePointer<Float>
    /// BᵀB (lower triangle) and Bᵀv of the kept pixels; clipping subtracts the pixels it drops.
    let gram: UnsafeMutablePointer<Double>
    let moment: UnsafeMutablePointer<Double>
    /// The penalised normal matrix, factorised in place, and its right-hand side.
    let normal: UnsafeMutablePointer<Double>
    let rhs: UnsafeMutablePointer<Double>
    let solution: UnsafeMutablePointer<Double>

    init(basis: IntraOrderBackground.Basis, width: Int, clipSigma: Double, clipIterations: Int, noiseFloor: Double) {
        order = basis.order; coefficients = basis.coefficients
        self.width = width; self.clipSigma = clipSigma; self.clipIterations = clipIterations; self.noiseFloor = noiseFloor
        start = .allocate(capacity: width); start.initialize(from: basis.start, count: width)
        values = .allocate(capacity: width * basis.order); values.initialize(from: basis.values, count: width * basis.order)
        usable = .allocate(capacity: width); kept = .allocate(capacity: width)
        residuals = .allocate(capacity: width); scratch = .allocate(capacity: width)
        normal = .allocate(capacity: coefficients * coefficients); gram = .allocate(capacity: coefficients * coefficients)
        rhs = .allocate(capacity: coefficients); moment = .allocate(capacity: coefficients); solution = .allocate(capacity: coefficients)
    }

    func deallocate() {
        start.deallocate(); values.deallocate(); usable.deallocate(); kept.deallocate()
        residuals.deallocate(); scratch.deallocate(); normal.deallocate(); rhs.deallocate(); solution.deallocate()
        gram.deallocate(); moment.deallocate()
    }

    func unmaskAll() { usable.update(repeating: 1, count: width) }

    /// Leaves the columns within [a, b] (pixel centres at integers) out of the fit.
    func mask(from a: Double, to b: Double) {
        guard b >= -0.5, a <= Double(width) - 0.5 else { return }
        let lo = max(0, Int(a.rounded(.down))), hi = min(width - 1, Int(b.rounded(.up)))
        guard hi >= lo else { return }
        (usable + lo).update(repeating: 0, count: hi - lo + 1)
    }

    @inline(__always) func value(at x: Int) -> Double {
        let s = start[x], b = values + x * order
        if order == 4 {   // cubic, the usual case: one SIMD dot product
            let c = UnsafeRawPointer(solution + s).loadUnaligned(as: SIMD4<Double>.self)
            let v = UnsafeRawPointer(b).loadUnaligned(as: SIMD4<Double>.self)
            return (c * v).sum()
        }
        var v = 0.0
        for i in 0..<order { v += solution[s + i] * b[i] }
        return v
    }

    func fit(_ row: UnsafeBufferPointer<Float>) -> (coefficients: [Double], kept: Int, sigma: Double)? {
        var n = 0
        for x in 0..<width {
            let k: UInt8 = usable[x] != 0 && row[x].isFinite ? 1 : 0
            kept[x] = k; n += Int(k)
        }
        guard n >= 2 * order else { return nil }
        gram.update(repeating: 0, count: coefficients * coefficients)
        moment.update(repeating: 0, count: coefficients)
        for x in 0..<width where kept[x] != 0 { accumulate(x, Double(row[x]), sign: 1) }
        var sigma = Double.nan
        for iteration in 0...clipIterations {
            guard solve(row) else { return nil }
            // Residuals of the kept pixels; a robust σ from every `stride`-th (≥ 400 values: the MAD needs no more).
            let stride = max(1, n / 400)
            var m = 0, seen = 0
            for x in 0..<width where kept[x] != 0 {
                let r = row[x] - Float(value(at: x))
                residuals[x] = r
                if seen % stride == 0 { scratch[m] = r; m += 1 }
                seen += 1
            }
            let sample = UnsafeMutableBufferPointer(start: scratch, count: m)
            let centre = RobustStatistics.select(sample, m / 2)
            for i in 0..<m { scratch[i] = abs(scratch[i] - centre) }
            sigma = Double(RobustStatistics.select(sample, m / 2)) * RobustStatistics.madToSigma
            guard max(sigma, noiseFloor) > 0, iteration < clipIterations else { break }
            let limit = Float(clipSigma * max(sigma, noiseFloor))
            var changed = 0
            for x in 0..<width where kept[x] != 0 && abs(residuals[x] - centre) > limit {
                kept[x] = 0; changed += 1
                accumulate(x, Double(row[x]), sign: -1)
            }
            n -= changed
            if changed == 0 { break }
            guard n >= 2 * order else { return nil }
        }
        return (Array(UnsafeBufferPointer(start: solution, count: coefficients)), n, sigma)
    }

    /// Adds (sign 1) or removes (sign −1) pixel x of value v in BᵀB and Bᵀv.
    @inline(__always) func accumulate(_ x: Int, _ v: Double, sign: Double) {
        let k = order, p = coefficients
        let s = start[x], b = values + x * k
        if k == 4 {   // cubic: the 4 × 4 block's rows as SIMD, the upper part harmless (never read)
            let bv = UnsafeRawPointer(b).loadUnaligned(as: SIMD4<Double>.self)
            let m = UnsafeMutableRawPointer(moment + s)
            m.storeBytes(of: m.loadUnaligned(as: SIMD4<Double>.self) + (sign * v) * bv, as: SIMD4<Double>.self)
            for a in 0..<4 {
                let line = UnsafeMutableRawPointer(gram + (s + a) * p + s)
                line.storeBytes(of: line.loadUnaligned(as: SIMD4<Double>.self) + (sign * bv[a]) * bv, as: SIMD4<Double>.self)
            }
            return
        }
        for a in 0..<k {
            let ba = sign * b[a]
            moment[s + a] += ba * v
            let line = gram + (s + a) * p + s
            for c in 0...a { line[c] += ba * b[c] }
        }
    }

    /// Normal equations (BᵀB + λDᵀD) c = Bᵀv with D the second-difference operator, by Cholesky.
    func solve(_ row: UnsafeBufferPointer<Float>) -> Bool {
        let p = coefficients
        normal.update(from: gram, count: p * p)
        rhs.update(from: moment, count: p)
        // λ relative to the mean diagonal, so the penalty's weight does not depend on the row's sample count.
        var trace = 0.0
        for j in 0..<p { trace += normal[j * p + j] }
        let lambda = IntraOrderBackground.penaltyWeight * trace / Double(p)
        if p >= 3 {
            // λ dᵀd for each second difference d = (1, −2, 1) at r, r + 1, r + 2 (lower triangle).
            for r in 0..<(p - 2) {
                normal[r * p + r] += lambda
                normal[(r + 1) * p + r] -= 2 * lambda; normal[(r + 1) * p + r + 1] += 4 * lambda
                normal[(r + 2) * p + r] += lambda; normal[(r + 2) * p + r + 1] -= 2 * lambda; normal[(r + 2) * p + r + 2] += lambda
            }
        }
        // Cholesky on the lower triangle, in place.
        for j in 0..<p {
            var diag = normal[j * p + j]
            for m in 0..<j { diag -= normal[j * p + m] * normal[j * p + m] }
            guard diag > 0, diag.isFinite else { return false }
            let l = diag.squareRoot()
            normal[j * p + j] = l
            for i in (j + 1)..<max(j + 1, p) {
                var s = normal[i * p + j]
                for m in 0..<j { s -= normal[i * p + m] * normal[j * p + m] }
                normal[i * p + j] = s / l
            }
        }
        for i in 0..<p {
            var s = rhs[i]
            for m in 0..<i { s -= normal[i * p + m] * solution[m] }
            solution[i] = s / normal[i * p + i]
        }
        for i in Swift.stride(from: p - 1, through: 0, by: -1) {
            var s = solution[i]
            for m in (i + 1)..<max(i + 1, p) { s -= normal[m * p + i] * solution[m] }
            solution[i] = s / normal[i * p + i]
        }
        for i in 0..<p where !solution[i].isFinite { return false }
        return true
    }
}
