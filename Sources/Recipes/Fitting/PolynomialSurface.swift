import Foundation

/// A global polynomial in two or three variables,
/// f(a, b, c) = Σ cᵢⱼₖ âⁱ b̂ʲ ĉᵏ, with each variable scaled to [−1, 1] over the
/// fitted data (â = (a − offset)/halfRange) so that high degrees stay well
/// conditioned. This is the form of the order-trace, order-edge and
/// dispersion solutions (x = Σ cᵢⱼ nⁱ yʲ; X, Y = Σ cᵢⱼₖ nⁱ λʲ sᵏ).
public struct PolynomialSurface: Sendable, Codable, Equatable {
    /// Highest power of each variable (2 or 3 entries).
    public var degrees: [Int]
    public var offsets: [Double]
    public var halfRanges: [Double]
    /// Coefficients in `terms` order.
    public var coefficients: [Double]

    public init(degrees: [Int], offsets: [Double], halfRanges: [Double], coefficients: [Double]) {
        self.degrees = degrees; self.offsets = offsets; self.halfRanges = halfRanges; self.coefficients = coefficients
    }

    /// The exponent tuples, lexicographic (i outermost).
    public static func terms(degrees: [Int]) -> [[Int]] {
        var out: [[Int]] = [[]]
        for d in degrees { out = out.flatMap { prefix in (0...d).map { prefix + [$0] } } }
        return out
    }

    public var terms: [[Int]] { Self.terms(degrees: degrees) }

    @inlinable
    public func evaluate(_ variables: [Double]) -> Double {
        var scaled = [Double](repeating: 0, count: variables.count)
        for v in variables.indices { scaled[v] = (variables[v] - offsets[v]) / halfRanges[v] }
        var sum = 0.0
        var index = 0
        Self.forEachTerm(degrees: degrees, scaled: scaled) { value in
            sum += coefficients[index] * value
            index += 1
        }
        return sum
    }

    /// This surface with variable `index` held at `value`: one variable fewer.
    public func fixing(variable index: Int, at value: Double) -> PolynomialSurface {
        let t = (value - offsets[index]) / halfRanges[index]
        var reducedDegrees = degrees
        reducedDegrees.remove(at: index)
        let reducedTerms = Self.terms(degrees: reducedDegrees)
        var position: [[Int]: Int] = [:]
        for (k, term) in reducedTerms.enumerated() { position[term] = k }
        var coefficients = [Double](repeating: 0, count: reducedTerms.count)
        for (k, term) in terms.enumerated() {
            var reduced = term
            let power = reduced.remove(at: index)
            coefficients[position[reduced]!] += self.coefficients[k] * pow(t, Double(power))
        }
        var o = offsets, h = halfRanges
        o.remove(at: index); h.remove(at: index)
        return PolynomialSurface(degrees: reducedDegrees, offsets: o, halfRanges: h, coefficients: coefficients)
    }

    /// The sum of this surface and `other`, which must share its scaling and
    /// have no degree above this one's.
    public func adding(_ other: PolynomialSurface) -> PolynomialSurface {
        precondition(other.offsets == offsets && other.halfRanges == halfRanges && other.degrees.count == degrees.count
                     && zip(other.degrees, degrees).allSatisfy { $0 <= $1 }, "surfaces differ in scaling or degree")
        var position: [[Int]: Int] = [:]
        for (k, term) in terms.enumerated() { position[term] = k }
        var sum = self
        for (k, term) in other.terms.enumerated() { sum.coefficients[position[term]!] += other.coefficients[k] }
        return sum
    }

    /// The same mapping onto another pixel scale: x' = factor · x + shift.
    public func transformed(factor: Double, shift: Double) -> PolynomialSurface {
        var out = self
        out.coefficients = coefficients.map { $0 * factor }
        out.coefficients[0] += shift  // terms[0] is the constant
        return out
    }

    public func evaluate(_ a: Double, _ b: Double) -> Double { evaluate([a, b]) }
    public func evaluate(_ a: Double, _ b: Double, _ c: Double) -> Double { evaluate([a, b, c]) }

    /// Calls `body` with the value of each monomial, in `terms` order.
    @inlinable
    static func forEachTerm(degrees: [Int], scaled: [Double], _ body: (Double) -> Void) {
        // Powers of each variable, then the products in lexicographic order.
        var powers: [[Double]] = []
        for (v, d) in degrees.enumerated() {
            var p = [Double](repeating: 1, count: d + 1)
            if d > 0 { for k in 1...d { p[k] = p[k - 1] * scaled[v] } }
            powers.append(p)
        }
        switch degrees.count {
        case 2:
            for i in 0...degrees[0] { for j in 0...degrees[1] { body(powers[0][i] * powers[1][j]) } }
        case 3:
            for i in 0...degrees[0] {
                for j in 0...degrees[1] { for k in 0...degrees[2] { body(powers[0][i] * powers[1][j] * powers[2][k]) } }
            }
        default:
            preconditionFailure("PolynomialSurface supports 2 or 3 variables")
        }
    }
}

/// Iterative σ-clipped least-squares fit of a `PolynomialSurface`.
public struct PolynomialSurfaceFit: Sendable {
    public var degrees: [Int]
    /// Points further than this many σ (robust σ of the kept residuals) from
    /// the median residual are clipped; every pass re-judges every point.
    public var clipSigma: Double
    /// Clipping stops after this many passes, or when a pass leaves the clipped set unchanged.
    public var maxIterations: Int

    public init(degrees: [Int], clipSigma: Double = 3, maxIterations: Int = 10) {
        self.degrees = degrees; self.clipSigma = clipSigma; self.maxIterations = maxIterations
    }

    public struct Result: Sendable {
        public var surface: PolynomialSurface
        /// Observed − fitted, for every point (clipped ones included).
        public var residuals: [Double]
        public var clipped: [Bool]
        public var iterations: Int
        /// RMS of the residuals of the kept points.
        public var rms: Double
        public var rank: Int
    }

    public enum Failure: Error, CustomStringConvertible {
        case tooFewPoints(kept: Int, terms: Int)
        case rankDeficient(rank: Int, terms: Int)
        case lapack(LinearLeastSquares.Failure)

        public var description: String {
            switch self {
            case .tooFewPoints(let kept, let terms): "only \(kept) points left for \(terms) coefficients"
            case .rankDeficient(let rank, let terms): "design matrix has rank \(rank) for \(terms) coefficients"
            case .lapack(let f): "\(f)"
            }
        }
    }

    /// Fits `values` at `points` (each point one value per variable).
    ///
    /// With `weights` (1/σ² per point) the fit is weighted least squares and
    /// clipping judges the normalised residuals r·√w, so a faint line measured
    /// to ±0.05 px is neither clipped for a 0.1 px residual nor allowed to pull
    /// the surface as hard as a bright one measured to ±0.003 px.
    /// `scaling` fixes the variables' offsets and half-ranges (e.g. those of a
    /// surface this fit will be added to) instead of taking them from the points.
    public func fit(points: [[Double]], values: [Double], weights: [Double]? = nil,
                    scaling: (offsets: [Double], halfRanges: [Double])? = nil) throws(Failure) -> Result {
        precondition(points.count == values.count && !points.isEmpty)
        precondition(weights == nil || weights!.count == values.count)
        let root = weights.map { $0.map { $0 > 0 && $0.isFinite ? $0.squareRoot() : 0 } }
            ?? [Double](repeating: 1, count: values.count)
        let nv = degrees.count
        var offsets = [Double](repeating: 0, count: nv), halfRanges = [Double](repeating: 1, count: nv)
        if let scaling {
            offsets = scaling.offsets; halfRanges = scaling.halfRanges
        } else {
            for v in 0..<nv {
                let column = points.map { $0[v] }
                let lo = column.min()!, hi = column.max()!
                offsets[v] = (lo + hi) / 2
                halfRanges[v] = hi > lo ? (hi - lo) / 2 : 1
            }
        }
        let termCount = PolynomialSurface.terms(degrees: degrees).count
        // The full design matrix once; each pass solves on the kept rows.
        var design = [Double](repeating: 0, count: points.count * termCount)
        for (row, point) in points.enumerated() {
            var scaled = [Double](repeating: 0, count: nv)
            for v in 0..<nv { scaled[v] = (point[v] - offsets[v]) / halfRanges[v] }
            var column = 0
            PolynomialSurface.forEachTerm(degrees: degrees, scaled: scaled) { value in
                design[row * termCount + column] = value
                column += 1
            }
        }
        var clipped = [Bool](repeating: false, count: points.count)
        var surface = PolynomialSurface(degrees: degrees, offsets: offsets, halfRanges: halfRanges, coefficients: [])
        var residuals = [Double](repeating: 0, count: points.count)
        var iterations = 0
        var rank = 0
        while true {
            iterations += 1
            let kept = clipped.indices.filter { !clipped[$0] }
            guard kept.count >= termCount else { throw .tooFewPoints(kept: kept.count, terms: termCount) }
            var a = [Double](), b = [Double]()
            a.reserveCapacity(kept.count * termCount)
            for row in kept {
                let w = root[row]
                a.append(contentsOf: design[(row * termCount)..<((row + 1) * termCount)].lazy.map { $0 * w })
                b.append(values[row] * w)
            }
            let solution: (coefficients: [Double], rank: Int)
            do { solution = try LinearLeastSquares.solve(design: a, rows: kept.count, columns: termCount, rhs: b) } catch {
                throw .lapack(error)
            }
            rank = solution.rank
            guard rank == termCount else { throw .rankDeficient(rank: rank, terms: termCount) }
            surface.coefficients = solution.coefficients
            for row in points.indices {
                var fitted = 0.0
                for t in 0..<termCount { fitted += design[row * termCount + t] * solution.coefficients[t] }
                residuals[row] = values[row] - fitted
            }
            let keptResiduals = kept.map { Float(residuals[$0] * root[$0]) }
            let (median, sigma) = RobustStatistics.madSigma(keptResiduals)
            guard iterations < maxIterations, sigma > 0 else { break }
            // Every point is judged again against the new fit, so a good point
            // clipped while an outlier still bent the first fit comes back.
            let next = residuals.indices.map { abs(residuals[$0] * root[$0] - median) > clipSigma * sigma }
            if next == clipped { break }
            clipped = next
        }
        let keptResiduals = residuals.indices.filter { !clipped[$0] }.map { residuals[$0] }
        let rms = (keptResiduals.reduce(0) { $0 + $1 * $1 } / Double(max(keptResiduals.count, 1))).squareRoot()
        return Result(surface: surface, residuals: residuals, clipped: clipped, iterations: iterations, rms: rms, rank: rank)
    }
}
