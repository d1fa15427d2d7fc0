import CalibCore
import FITS
import Foundation
import Recipes

/// The `slitedges` recipe on files: through-slit flats, screened (saturated ones left out,
/// with the reason in the log and the product's HISTORY), bias subtracted, scaled to a
/// common level and combined, give
/// the CRV model (the slit's edges x(y)). The product holds the combined flat and the
/// `SLIT_EDGES` table.
struct SlitEdgesExecutor: RecipeExecutor {
    var name: String { SlitEdgeTrace.name }
    var version: String { SlitEdgeTrace.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try SlitEdgeTrace(parameters: context.parameters)
        let last = recipe.lastRow < 0 ? Int.max - 1 : recipe.lastRow
        let frames = try LongSlitFrames(context, screen: recipe.screen, rows: recipe.firstRow...last)
        for rejection in frames.rejections { context.logger.warning("flat left out", metadata: ["reason": "\(rejection)"]) }
        context.logger.info("tracing the slit edges", metadata: [
            "frames": "\(frames.framesUsed)", "size": "\(frames.image.width)x\(frames.image.height)",
        ])
        var result = try recipe.run(frames.image)
        result.metrics += [
            QCMeasurement("frameCount", Double(frames.framesUsed), unit: "", "flats combined"),
            QCMeasurement("rejectedFrames", Double(frames.rejections.count), unit: "", "flats left out (saturated or unexposed)"),
        ]
        var header = FITSHeader()
        header.set("SLITROW", .real(result.middleRow), comment: "row where the QC edges are measured")
        // The reasons stay with the product, so that a person sees why a flat was not used.
        for rejection in frames.rejections { header.addHistory("flat left out: \(rejection)") }
        return [ProductOutput(type: .curvatureModel,
                              hdus: [.image(frames.image, name: "FLAT", header: header),
                                     .table(LongSlitFrames.edgeTable(result), name: LongSlitFrames.edgeTableName, header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
