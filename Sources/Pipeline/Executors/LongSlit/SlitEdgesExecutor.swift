import CalibCore
import FITS
import Foundation
import Recipes

/// The `slitedges` recipe on files: through-slit flats, bias subtracted and combined, give
/// the CRV model (the slit's edges x(y)). The product holds the combined flat and the
/// `SLIT_EDGES` table.
struct SlitEdgesExecutor: RecipeExecutor {
    var name: String { SlitEdgeTrace.name }
    var version: String { SlitEdgeTrace.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try SlitEdgeTrace(parameters: context.spec.parameters)
        let frames = try LongSlitFrames(context)
        context.logger.info("tracing the slit edges", metadata: [
            "frames": "\(context.inputs.count)", "size": "\(frames.image.width)x\(frames.image.height)",
        ])
        let result = try recipe.run(frames.image)
        var header = FITSHeader()
        header.set("SLITROW", .real(result.middleRow), comment: "row where the QC edges are measured")
        return [ProductOutput(type: .curvatureModel,
                              hdus: [.image(frames.image, name: "FLAT", header: header),
                                     .table(LongSlitFrames.edgeTable(result), name: LongSlitFrames.edgeTableName, header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
