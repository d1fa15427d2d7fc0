import CalibCore
import Foundation

extension MasterFlat {
    /// Order edges from slice detections by the global fits alone (no residuals kept):
    /// the first pass whose edges mask the orders for the background fit.
    func traceEdges(_ edges: [EdgeDetection], centres: OrderGeometry) throws -> OrderGeometry {
        let lowerPoints = edges.compactMap { e in e.lower.map { ([Double(e.order), e.y], $0) } }
        let upperPoints = edges.compactMap { e in e.upper.map { ([Double(e.order), e.y], $0) } }
        guard lowerPoints.count > 20, upperPoints.count > 20 else {
            throw Failure.noEdges("before the background fit, only \(lowerPoints.count) lower and \(upperPoints.count) upper edge points found")
        }
        var geometry = centres
        geometry.lowerEdge = try OrderTrace.fitWithFallback(points: lowerPoints.map(\.0), values: lowerPoints.map(\.1),
                                                            degrees: [orderDegree, yDegree], clipSigma: edgeClipSigma,
                                                            iterations: edgeClipIterations).result.surface
        geometry.upperEdge = try OrderTrace.fitWithFallback(points: upperPoints.map(\.0), values: upperPoints.map(\.1),
                                                            degrees: [orderDegree, yDegree], clipSigma: edgeClipSigma,
                                                            iterations: edgeClipIterations).result.surface
        return geometry
    }

    /// QC of the fitted scattered light, relative to the flat's exposure level (ADU, the
    /// median lit pixel of the central window): the median and maximum of the background
    /// image (every 7th pixel for the median), rows that could not be fitted, and the
    /// median per-row scatter of the inter-order pixels about the fit.
    static func backgroundMetrics(_ fit: IntraOrderBackground.Result, level: Double) -> [QCMeasurement] {
        var sample: [Float] = []
        sample.reserveCapacity(fit.background.pixels.count / 7 + 1)
        var maximum = -Float.infinity
        for i in fit.background.pixels.indices {
            let v = fit.background.pixels[i]
            maximum = max(maximum, v)
            if i % 7 == 0 { sample.append(v) }
        }
        let median = RobustStatistics.medianInPlace(&sample)
        return [
            QCMeasurement("backgroundMedianFraction", median / level, unit: "",
                          "median fitted scattered light as a fraction of the flat's exposure level"),
            QCMeasurement("backgroundMaxFraction", Double(maximum) / level, unit: "",
                          "largest fitted scattered light as a fraction of the flat's exposure level"),
            QCMeasurement("backgroundFailedRows", Double(fit.failedRows), unit: "",
                          "rows with too few inter-order pixels for the background fit (interpolated)"),
            QCMeasurement("backgroundResidualSigma", fit.residualSigma, unit: "ADU",
                          "median per-row robust σ of the inter-order pixels about the background fit"),
            QCMeasurement("backgroundMarginPixels", fit.margin, unit: "px", "pixels beyond the order edges left out of the background fit"),
        ]
    }
}
