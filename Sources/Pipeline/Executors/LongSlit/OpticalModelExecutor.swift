import CalibCore
import FITS
import Foundation
import Recipes

/// The `optmodel` recipe on files: arcs through the mask, bias subtracted and combined, the mask
/// description `<config>/static/<INSTRUMENT>[_<ARM>]_mask.yaml` and the lamps' line list
/// `…_arc_lines.dat` give the OPT model (`OpticalModelFinder`, arc only). The product
/// (OPT_MODEL) holds the arc, the polynomials (`OPT_POLY`) and every aperture as found (`APERTURES`).
struct OpticalModelExecutor: RecipeExecutor {
    var name: String { OpticalModelFinder.name }
    var version: String { OpticalModelFinder.version }
    var staticFileSuffixes: [String] { [Self.maskSuffix, LongSlitWavelengthExecutor.lineListSuffix] }

    static let maskSuffix = "_mask.yaml"

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try OpticalModelFinder(parameters: context.spec.parameters)
        let frames = try LongSlitFrames(context)
        let maskPath = ArcFrameLoader.staticPath(context: context, header: frames.header, suffix: Self.maskSuffix)
        guard let maskText = try? String(contentsOfFile: maskPath, encoding: .utf8) else {
            throw PipelineError.configuration("mask description \(maskPath) is missing or unreadable")
        }
        let mask: SlitMaskDescription
        do { mask = try SlitMaskDescription.parse(yaml: maskText, source: maskPath) } catch {
            throw PipelineError.configuration(error.description)
        }
        let listPath = ArcFrameLoader.staticPath(context: context, header: frames.header, suffix: LongSlitWavelengthExecutor.lineListSuffix)
        guard let listText = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw PipelineError.configuration("line list \(listPath) is missing or unreadable")
        }
        let catalog = try LineCatalog.parse(listText, source: listPath)
        context.logger.info("finding the OPT model", metadata: ["mask": "\(mask.name)", "slits": "\(mask.slits.count)", "holes": "\(mask.holes.count)"])
        let result = try recipe.run(flat: nil, arc: frames.image, mask: mask, catalog: catalog)
        // The reasons stay with the product, so that a person sees which slit was not found and why.
        var header = FITSHeader()
        header.set("MASKNAME", .string(mask.name), comment: "mask description used")
        header.set("FLIPX", .logical(result.flipX), comment: "mask X runs against detector x")
        header.set("FLIPY", .logical(result.flipY), comment: "mask Y runs against detector y")
        for a in result.apertures { if let failure = a.failure { header.addHistory("not found: \(failure)") } }
        for a in result.apertures where a.failure != nil { context.logger.warning("aperture not found", metadata: ["reason": "\(a.failure!)"]) }
        return [ProductOutput(type: .opticalModel,
                              hdus: [.image(frames.image, name: "ARC", header: header),
                                     .table(OpticalModelFile.polynomialTable(result), name: OpticalModelFile.polynomialTableName, header: FITSHeader()),
                                     .table(OpticalModelFile.apertureTable(result), name: OpticalModelFile.apertureTableName, header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
