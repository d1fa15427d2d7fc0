import CalibCore
import FITS
import Foundation
import Recipes

/// The `mosedges` recipe on files: through-slit flats, screened, bias subtracted, scaled and
/// combined, traced slit by slit from where the OPT model puts each slit's ends
/// (`MultiSlitEdgeTrace`). The product (CRV_MODEL) holds the combined flat and `MOS_EDGES`.
struct MultiSlitEdgesExecutor: RecipeExecutor {
    var name: String { MultiSlitEdgeTrace.name }
    var version: String { MultiSlitEdgeTrace.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try MultiSlitEdgeTrace(parameters: context.spec.parameters)
        guard let optPath = context.calibrations[.opticalModel]?.path else {
            throw PipelineError.inputMismatch("no OPT model was chosen for these flats")
        }
        let seeds = try OpticalModelFile.readSeeds(path: optPath)
        let frames = try LongSlitFrames(context, screen: FlatFrameScreen(maxSaturatedFraction: 0.001, normalise: true))
        for rejection in frames.rejections { context.logger.warning("flat left out", metadata: ["reason": "\(rejection)"]) }
        var result = recipe.run(flat: frames.image, seeds: seeds)
        for slit in result.slits { if let failure = slit.failure { context.logger.warning("slit not traced", metadata: ["reason": "\(failure)"]) } }
        result.metrics += [
            QCMeasurement("frameCount", Double(frames.framesUsed), unit: "", "flats combined"),
            QCMeasurement("rejectedFrames", Double(frames.rejections.count), unit: "", "flats left out (saturated or unexposed)"),
        ]
        var header = FITSHeader()
        for rejection in frames.rejections { header.addHistory("flat left out: \(rejection)") }
        for slit in result.slits { if let failure = slit.failure { header.addHistory("not traced: \(failure)") } }
        return [ProductOutput(type: .curvatureModel,
                              hdus: [.image(frames.image, name: "FLAT", header: header),
                                     .table(OpticalModelFile.edgeTable(result), name: OpticalModelFile.edgeTableName, header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
