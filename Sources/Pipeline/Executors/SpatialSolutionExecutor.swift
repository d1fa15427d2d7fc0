import CalibCore
import FITS
import Foundation
import Recipes

/// The `spatial_solution` recipe on files: multi-pinhole arc and the
/// night's DISP_MAP → DISP_IMAGE: wavelength, slit and order images of the
/// detector, with the X, Y = Σ cᵢⱼₖ nⁱ λʲ sᵏ solution and the line table.
struct SpatialSolutionExecutor: RecipeExecutor {
    static let recipeName = "spatial_solution"
    var name: String { Self.recipeName }
    var version: String { "1.0" }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try DispersionMapFit(recipe: name, parameters: context.parameters)
        let arc = try ArcFrameLoader(context)
        guard let mapPath = context.calibrations[.dispersionMap]?.path else {
            throw PipelineError.inputMismatch("no DISP_MAP was chosen as first guess")
        }
        let firstGuess = try DispersionMapFile.read(path: mapPath)
        let result = try recipe.multiPinhole(arc.image, map: arc.map, firstGuess: firstGuess, gain: arc.gain, nominal: arc.nominal)
        let slitRange: ClosedRange<Double> = recipe.slitHalfLength > 0
            ? -recipe.slitHalfLength...recipe.slitHalfLength : (result.solution.slitRange ?? 0...0)
        let images = DispersionImageMap.compute(result.solution, width: arc.image.width, height: arc.image.height, slitRange: slitRange)
        var metrics = result.metrics
        let inOrders = images.order.pixels.filter { $0 > 0 }.count
        metrics.append(QCMeasurement("mappedPixelFraction", Double(inOrders) / Double(max(images.order.pixels.count, 1)), unit: "",
                                     "fraction of detector pixels inside an order of the 2D map"))
        var header = FITSHeader()
        header.set("BUNIT", .string("nm"), comment: "wavelength at each pixel centre")
        let hdus: [ProductHDU] = [
            .image(images.wavelength, name: "WAVELENGTH", header: header),
            .image(images.slit, name: "SLIT", header: FITSHeader()),
            .image(images.order, name: "ORDER", header: FITSHeader()),
        ] + DispersionMapFile.hdus(result.solution, method: recipe.fitMode(nominal: arc.nominal != nil)) + [DispersionMapFile.linesHDU(result.lines)]
        return [ProductOutput(type: .dispersionImage, hdus: hdus, metrics: metrics, mjd: ArcFrameLoader.meanMJD(context),
                              attachments: DispersionQCPlots(lines: result.lines).attachments)]
    }
}
