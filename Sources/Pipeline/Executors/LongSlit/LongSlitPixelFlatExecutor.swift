import CalibCore
import FITS
import Foundation
import Recipes

/// The `longslit_pixflat` recipe on files: the through-slit flats, screened and combined as
/// the CRV model's are (saturated ones left out with the reason), divided by the lamp
/// spectrum and the slit illumination between the upstream CRV model's optical edges.
/// The product holds the pixel response (`PIXFLAT`, ≈ 1 in the slit, 1 elsewhere) and its
/// flags (`FLAGS`: 0 good, 1 measured but out of range, 2 not measured).
struct LongSlitPixelFlatExecutor: RecipeExecutor {
    var name: String { LongSlitPixelFlat.name }
    var version: String { LongSlitPixelFlat.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try LongSlitPixelFlat(parameters: context.parameters)
        guard let crvPath = context.calibrations[.curvatureModel]?.path else {
            throw PipelineError.inputMismatch("no CRV model (slit edges) was chosen for these flats")
        }
        let edges = try LongSlitFrames.readEdges(path: crvPath)
        let frames = try LongSlitFrames(context, screen: recipe.screen, rows: edges.rows)
        for rejection in frames.rejections { context.logger.warning("flat left out", metadata: ["reason": "\(rejection)"]) }
        let height = frames.image.height
        let left = (0..<height).map { edges.left.evaluate(Double($0), 0) }
        let right = (0..<height).map { edges.right.evaluate(Double($0), 0) }
        var result = try recipe.run(frames.image, left: left, right: right, rows: edges.rows)
        result.metrics += [
            QCMeasurement("frameCount", Double(frames.framesUsed), unit: "", "flats combined"),
            QCMeasurement("rejectedFrames", Double(frames.rejections.count), unit: "", "flats left out (saturated or unexposed)"),
        ]
        var header = FITSHeader()
        header.set("CRVFILE", .string((crvPath as NSString).lastPathComponent), comment: "CRV model whose edges bound the slit")
        for rejection in frames.rejections { header.addHistory("flat left out: \(rejection)") }
        return [ProductOutput(type: .pixelFlat,
                              hdus: [.image(result.response, name: "PIXFLAT", header: header),
                                     .image(result.flags, name: "FLAGS", header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
