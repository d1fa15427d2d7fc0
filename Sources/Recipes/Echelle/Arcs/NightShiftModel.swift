import Foundation

/// The night-to-night displacement of an instrument's images relative to
/// its static model, as observed − predicted offsets over the detector:
/// dX = a₀ + a₁x + a₂y + a₃xy + a₄y² + a₅xy², dY likewise — a shift, a small
/// rotation and scale (linear terms) and a bowing of the orders (y²), which
/// is how flexure and temperature move an echelle format. Fitted with
/// iterative σ clipping so that misidentified lines do not pull it.
public struct NightShiftModel: Sendable {
    public var dx: PolynomialSurface
    public var dy: PolynomialSurface
    /// Lines kept by the clipping.
    public var kept: Int

    /// Offset to add to a predicted position (x, y).
    public func offset(x: Double, y: Double) -> (dx: Double, dy: Double) {
        (dx.evaluate(x, y), dy.evaluate(x, y))
    }

    /// Fits the model to predicted positions and observed − predicted offsets.
    /// With fewer than 12 usable points, falls back to a pure shift (median offsets).
    /// `weights` (1/σ² of each offset in x and y) make it a weighted fit.
    public static func fit(predicted: [(x: Double, y: Double)], offsets: [(dx: Double, dy: Double)], clipSigma: Double = 3,
                           weights: [(x: Double, y: Double)]? = nil) -> NightShiftModel? {
        let usable = predicted.indices.filter { offsets[$0].dx.isFinite && offsets[$0].dy.isFinite }
        guard !usable.isEmpty else { return nil }
        let points = usable.map { [predicted[$0].x, predicted[$0].y] }
        if usable.count >= 12 {
            let fitter = PolynomialSurfaceFit(degrees: [1, 2], clipSigma: clipSigma, maxIterations: 10)
            if let fx = try? fitter.fit(points: points, values: usable.map { offsets[$0].dx }, weights: weights.map { w in usable.map { w[$0].x } }),
               let fy = try? fitter.fit(points: points, values: usable.map { offsets[$0].dy }, weights: weights.map { w in usable.map { w[$0].y } }) {
                let kept = zip(fx.clipped, fy.clipped).filter { !$0 && !$1 }.count
                return NightShiftModel(dx: fx.surface, dy: fy.surface, kept: kept)
            }
        }
        let mx = RobustStatistics.median(usable.map { Float(offsets[$0].dx) })
        let my = RobustStatistics.median(usable.map { Float(offsets[$0].dy) })
        func constant(_ v: Double) -> PolynomialSurface {
            PolynomialSurface(degrees: [0, 0], offsets: [0, 0], halfRanges: [1, 1], coefficients: [v])
        }
        return NightShiftModel(dx: constant(mx), dy: constant(my), kept: usable.count)
    }
}
