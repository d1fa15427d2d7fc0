import CalibCore
import FITS
import Foundation
import Recipes

/// The `disp_solution` recipe on files: single-pinhole arc → DISP_MAP
/// (coefficients, orders, line table).
struct DispersionSolutionExecutor: RecipeExecutor {
    static let recipeName = "disp_solution"
    var name: String { Self.recipeName }
    var version: String { "1.0" }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try DispersionMapFit(recipe: name, parameters: context.parameters)
        let arc = try ArcFrameLoader(context)
        context.logger.info("fitting the dispersion solution", metadata: [
            "map.lines": "\(arc.map.centralPinhole.entries.count)", "binning": "\(arc.binning)x\(arc.binningY)",
            "nominal.model": "\(arc.nominal != nil ? "yes: fitting a correction to it" : "no: fitting the whole polynomial")",
            "size": "\(arc.image.width)x\(arc.image.height)",
        ])
        let result = try recipe.singlePinhole(arc.image, map: arc.map.centralPinhole, gain: arc.gain, nominal: arc.nominal)
        let hdus = DispersionMapFile.hdus(result.solution, method: recipe.fitMode(nominal: arc.nominal != nil)) + [DispersionMapFile.linesHDU(result.lines)]
        return [ProductOutput(type: .dispersionMap, hdus: hdus, metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context),
                              attachments: DispersionQCPlots(lines: result.lines).attachments)]
    }
}
