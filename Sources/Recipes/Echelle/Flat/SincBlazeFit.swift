import CGSL
import Foundation

/// Non-linear least-squares fit of a `SincBlazeModel` to one order's
/// (median-filtered) flux, by GSL's trust-region Levenberg–Marquardt
/// (`gsl_multifit_nlinear`, Moré scaling, Cholesky solver) with an analytic
/// Jacobian.
///
/// Internally the parameters are made dimensionless — flux divided by a
/// starting amplitude, positions by the order length N — so that all six are
/// O(1) and the trust region is well shaped: A = a·A₀, P = p·N, L = l·N,
/// Q = q/N, C = c/N², s = σ/N.
///
/// Starting values (robust to orders that do not reach their half maximum on
/// one side, which happens when an order covers more than one free spectral
/// range): A₀ = the data's maximum, L₀ = its position, P₀ from the half-width
/// at half maximum of sinc², whose half-power phase is φ½ = 1.39156 rad, so
/// P₀ = 2π·HWHM/φ½; Q = C = s = 0. The fit is then repeated from P₀/1.3 and
/// 1.3·P₀ and the lowest χ² kept, because a sinc² with the wrong period has
/// local minima on its side lobes — unless the first fit is already within
/// 0.3 % RMS of the peak.
public struct SincBlazeFit: Sendable {
    public var maxIterations: Int
    /// Starting periods tried, as multiples of the HWHM estimate.
    public var periodFactors: [Double]

    public init(maxIterations: Int = 100, periodFactors: [Double] = [1, 1 / 1.3, 1.3]) {
        self.maxIterations = maxIterations; self.periodFactors = periodFactors
    }

    public struct Result: Sendable {
        public var model: SincBlazeModel
        /// RMS of (data − model)/model over the fitted points.
        public var relativeRMS: Double
        public var iterations: Int
    }

    public enum Failure: Error, CustomStringConvertible, Sendable, Equatable {
        case tooFewPoints(Int)
        case solver(String)
        case nonFinite

        public var description: String {
            switch self {
            case .tooFewPoints(let n): "only \(n) usable pixels for 6 sinc parameters"
            case .solver(let s): "GSL trust-region solver: \(s)"
            case .nonFinite: "the fit diverged to non-finite parameters"
            }
        }
    }

    /// GSL's default error handler aborts the process; a night must survive
    /// a bad order, so errors become status codes (set once, process-wide).
    static let errorHandlerOff: Void = { _ = gsl_set_error_handler_off() }()

    /// Fits `values` at `positions` (px). Non-finite values must be removed by the caller.
    public func fit(positions: [Double], values: [Double]) throws(Failure) -> Result {
        precondition(positions.count == values.count)
        _ = Self.errorHandlerOff
        let n = positions.count
        guard n >= 12 else { throw .tooFewPoints(n) }
        let lo = positions.min()!, hi = positions.max()!
        let length = max(hi - lo, 1)
        // Starting values from the data.
        var peakIndex = 0
        for i in 1..<n where values[i] > values[peakIndex] { peakIndex = i }
        let a0 = values[peakIndex]
        guard a0 > 0, a0.isFinite else { throw .nonFinite }
        let centre0 = positions[peakIndex]
        var left = Double.nan, right = Double.nan
        for i in positions.indices where values[i] >= 0.5 * a0 {
            if left.isNaN || positions[i] < left { left = positions[i] }
            if right.isNaN || positions[i] > right { right = positions[i] }
        }
        var halfWidths: [Double] = []
        if left > lo { halfWidths.append(centre0 - left) }
        if right < hi { halfWidths.append(right - centre0) }
        let hwhm = halfWidths.filter { $0 > 0 }.max() ?? length
        let period0 = 2 * Double.pi * hwhm / 1.391_557_4

        let t = positions.map { $0 / length }
        let y = values.map { $0 / a0 }
        var best: (model: SincBlazeModel, chi2: Double, iterations: Int)?
        var lastError: Failure = .nonFinite
        for factor in periodFactors {
            let start = [1.0, period0 * factor / length, centre0 / length, 0, 0, 0]
            do {
                let (theta, chi2, iterations) = try Self.solve(t: t, y: y, start: start, maxIterations: maxIterations)
                let model = SincBlazeModel(amplitude: theta[0] * a0, period: theta[1] * length, centre: theta[2] * length,
                                           quadratic: theta[3] / length, cubic: theta[4] / (length * length),
                                           slope: theta[5] / length)
                if best == nil || chi2 < best!.chi2 { best = (model, chi2, iterations) }
                // Good to 0.3 % of the peak: the other starting periods cannot do materially better.
                if (chi2 / Double(n)).squareRoot() < 0.003 { break }
            } catch {
                lastError = error
            }
        }
        guard let best else { throw lastError }
        var sum = 0.0
        for i in 0..<n {
            let m = best.model.evaluate(positions[i])
            let r = (values[i] - m) / m
            sum += r * r
        }
        return Result(model: best.model, relativeRMS: (sum / Double(n)).squareRoot(), iterations: best.iterations)
    }

    private static func solve(t: [Double], y: [Double], start: [Double], maxIterations: Int) throws(Failure) -> ([Double], Double, Int) {
        let n = t.count, p = 6
        var parameters = gsl_multifit_nlinear_default_parameters()
        parameters.trs = calibd_gsl_nlinear_trs_lm()
        parameters.scale = calibd_gsl_nlinear_scale_more()
        parameters.solver = calibd_gsl_nlinear_solver_cholesky()
        guard let workspace = gsl_multifit_nlinear_alloc(calibd_gsl_nlinear_trust(), &parameters, n, p) else {
            throw .solver("could not allocate a workspace for \(n) points")
        }
        defer { gsl_multifit_nlinear_free(workspace) }
        let x0 = gsl_vector_alloc(p)!
        defer { gsl_vector_free(x0) }
        for k in 0..<p { gsl_vector_set(x0, k, start[k]) }

        let outcome = t.withUnsafeBufferPointer { tb in
            y.withUnsafeBufferPointer { yb in
                var problem = SincFitProblem(t: tb.baseAddress!, y: yb.baseAddress!, n: n)
                return withUnsafeMutablePointer(to: &problem) { problemPointer -> Swift.Result<([Double], Double, Int), Failure> in
                    var fdf = gsl_multifit_nlinear_fdf()
                    fdf.f = sincResiduals
                    fdf.df = sincJacobian
                    fdf.fvv = nil
                    fdf.n = n
                    fdf.p = p
                    fdf.params = UnsafeMutableRawPointer(problemPointer)
                    var status = gsl_multifit_nlinear_init(x0, &fdf, workspace)
                    guard status == Int32(GSL_SUCCESS) else { return .failure(.solver(String(cString: gsl_strerror(status)))) }
                    var info: Int32 = 0
                    status = gsl_multifit_nlinear_driver(maxIterations, 1e-8, 1e-8, 1e-8, nil, nil, &info, workspace)
                    // GSL_EMAXITER still leaves the best point found; the caller judges it by its residuals.
                    guard status == Int32(GSL_SUCCESS) || status == Int32(GSL_EMAXITER) else {
                        return .failure(.solver(String(cString: gsl_strerror(status))))
                    }
                    let solution = gsl_multifit_nlinear_position(workspace)!
                    let theta = (0..<p).map { gsl_vector_get(solution, $0) }
                    guard theta.allSatisfy(\.isFinite), theta[1] != 0 else { return .failure(.nonFinite) }
                    var chi2 = 0.0
                    let residual = gsl_multifit_nlinear_residual(workspace)!
                    gsl_blas_ddot(residual, residual, &chi2)
                    return .success((theta, chi2, Int(gsl_multifit_nlinear_niter(workspace))))
                }
            }
        }
        return try outcome.get()
    }
}

/// f_i = B(t_i; θ) − y_i in the dimensionless parameters of `SincBlazeFit`.
private let sincResiduals: @convention(c) (UnsafePointer<gsl_vector>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<gsl_vector>?) -> Int32 = { x, params, f in
    guard let x, let params, let f else { return Int32(GSL_EINVAL) }
    let problem = params.assumingMemoryBound(to: SincFitProblem.self).pointee
    let a = gsl_vector_get(x, 0), p = gsl_vector_get(x, 1), l = gsl_vector_get(x, 2)
    let q = gsl_vector_get(x, 3), c = gsl_vector_get(x, 4), s = gsl_vector_get(x, 5)
    let k = 2 * Double.pi / p
    for i in 0..<problem.n {
        let d = problem.t[i] - l
        let phase = k * (d + q * d * d + c * d * d * d)
        let sinc = SincBlazeModel.sinc(phase)
        gsl_vector_set(f, i, a * sinc * sinc * (1 + s * d) - problem.y[i])
    }
    return Int32(GSL_SUCCESS)
}

/// ∂B/∂θ, from B = a S(φ)² (1 + s d), φ = 2π(d + q d² + c d³)/p, d = t − l.
private let sincJacobian: @convention(c) (UnsafePointer<gsl_vector>?, UnsafeMutableRawPointer?, UnsafeMutablePointer<gsl_matrix>?) -> Int32 = { x, params, jacobian in
    guard let x, let params, let jacobian else { return Int32(GSL_EINVAL) }
    let problem = params.assumingMemoryBound(to: SincFitProblem.self).pointee
    let a = gsl_vector_get(x, 0), p = gsl_vector_get(x, 1), l = gsl_vector_get(x, 2)
    let q = gsl_vector_get(x, 3), c = gsl_vector_get(x, 4), s = gsl_vector_get(x, 5)
    let k = 2 * Double.pi / p
    for i in 0..<problem.n {
        let d = problem.t[i] - l
        let phase = k * (d + q * d * d + c * d * d * d)
        let sinc = SincBlazeModel.sinc(phase)
        let slopeFactor = 1 + s * d
        // ∂B/∂φ = a (1 + s d) 2 S S'
        let dB = a * slopeFactor * 2 * sinc * SincBlazeModel.sincDerivative(phase)
        gsl_matrix_set(jacobian, i, 0, sinc * sinc * slopeFactor)
        gsl_matrix_set(jacobian, i, 1, dB * (-phase / p))
        gsl_matrix_set(jacobian, i, 2, dB * k * -(1 + 2 * q * d + 3 * c * d * d) - a * sinc * sinc * s)
        gsl_matrix_set(jacobian, i, 3, dB * k * d * d)
        gsl_matrix_set(jacobian, i, 4, dB * k * d * d * d)
        gsl_matrix_set(jacobian, i, 5, a * sinc * sinc * d)
    }
    return Int32(GSL_SUCCESS)
}

/// The data the C callbacks read through GSL's `params` pointer.
private struct SincFitProblem {
    var t: UnsafePointer<Double>
    var y: UnsafePointer<Double>
    var n: Int
}
