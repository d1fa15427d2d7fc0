import CalibCore
import Foundation

/// Rejects line measurements that fitted *something* but not the map's
/// line, using what the whole frame says about every line rather than what
/// one stamp says about itself:
///
/// 1. **Position.** Once the night's displacement is removed, every line
///    should sit at its prediction to within the displacement model's own
///    error (a few 0.01 px). The offsets' robust scatter σ (1.4826 × MAD
///    about the median) is measured over the frame; a line farther than
///    `max(positionSigma · σ, positionFloorFWHM · FWHM)` from its
///    prediction is `.displaced`. The floor keeps a frame with a very
///    tight scatter from rejecting honest lines; at 0.25 FWHM it is still
///    well below the ≥ 1 px by which a neighbour, a blend or a cosmic ray
///    beside the line pulls a single-Gaussian fit.
/// 2. **Flux.** A line's fitted flux is its map intensity times the frame's
///    flux scale, which varies smoothly over the detector (blaze, throughput,
///    exposure). ln(flux / intensity) is fitted by a σ-clipped quadratic
///    surface in (x, y); a line whose residual exceeds
///    `max(fluxSigma · σ, ln fluxFloorFactor)` is `.fluxMismatch`. A line
///    missing from the lamp whose stamp found a neighbour is caught here:
///    the static map only keeps lines with no neighbour above 2 % of their
///    flux within 3 FWHM, so the impostor is ≥ 50× too faint.
///
/// Only `.good` measurements are judged and only their quality changes.
/// With fewer than `minimumLines` good lines nothing is judged: the
/// statistics would not be trustworthy, and the polynomial fit's own
/// clipping remains. NaN fluxes or positions are never `.good` on input.
public struct ArcLineVetting: Sendable {
    public var positionSigma: Double = 5
    public var positionFloorFWHM: Double = 0.25
    public var fluxSigma: Double = 5
    public var fluxFloorFactor: Double = 3
    public var minimumLines: Int = 12

    public init() {}

    /// One line as the vetting sees it.
    public struct Candidate: Sendable {
        public var predictedX: Double, predictedY: Double
        public var intensity: Double
        public var measurement: LineMeasurement
        public init(predictedX: Double, predictedY: Double, intensity: Double, measurement: LineMeasurement) {
            self.predictedX = predictedX; self.predictedY = predictedY; self.intensity = intensity; self.measurement = measurement
        }
    }

    /// Returns the new quality of each candidate (unchanged unless rejected).
    /// - Parameter psfFWHM: the PSF FWHM at this frame's binning, px.
    public func judge(_ candidates: [Candidate], psfFWHM: Double) -> [LineQuality] {
        var quality = candidates.map(\.measurement.quality)
        var good = candidates.indices.filter { quality[$0] == .good }
        guard good.count >= minimumLines else { return quality }

        // 1. Position against the night-corrected prediction.
        let dx = good.map { candidates[$0].measurement.x - candidates[$0].predictedX }
        let dy = good.map { candidates[$0].measurement.y - candidates[$0].predictedY }
        let (mx, sx) = Self.robustCentreAndSigma(dx), (my, sy) = Self.robustCentreAndSigma(dy)
        let floor = positionFloorFWHM * psfFWHM
        let limitX = max(positionSigma * sx, floor), limitY = max(positionSigma * sy, floor)
        for (k, i) in good.enumerated() where abs(dx[k] - mx) > limitX || abs(dy[k] - my) > limitY {
            quality[i] = .displaced
        }
        good = good.filter { quality[$0] == .good }

        // 2. Flux against intensity × a smooth flux scale.
        let withFlux = good.filter { candidates[$0].measurement.flux > 0 && candidates[$0].intensity > 0 }
        guard withFlux.count >= minimumLines else { return quality }
        let points = withFlux.map { [candidates[$0].measurement.x, candidates[$0].measurement.y] }
        let logRatio = withFlux.map { log(candidates[$0].measurement.flux / candidates[$0].intensity) }
        guard let fit = try? PolynomialSurfaceFit(degrees: [2, 2], clipSigma: 3, maxIterations: 10).fit(points: points, values: logRatio)
        else { return quality }
        let kept = fit.residuals.indices.filter { !fit.clipped[$0] }.map { fit.residuals[$0] }
        let (_, sigma) = Self.robustCentreAndSigma(kept)
        let limit = max(fluxSigma * sigma, log(fluxFloorFactor))
        for (k, i) in withFlux.enumerated() where abs(fit.residuals[k]) > limit { quality[i] = .fluxMismatch }
        for i in good where !(candidates[i].measurement.flux > 0) { quality[i] = .fluxMismatch }
        return quality
    }

    /// Median and 1.4826 × MAD (the Gaussian σ a MAD implies); (0, 0) when empty.
    static func robustCentreAndSigma(_ values: [Double]) -> (centre: Double, sigma: Double) {
        guard !values.isEmpty else { return (0, 0) }
        let median = Self.median(values)
        return (median, 1.4826 * Self.median(values.map { abs($0 - median) }))
    }

    static func median(_ values: [Double]) -> Double {
        let s = values.sorted()
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2])
    }
}
