import CalibCore
import FITS
import Foundation
import Recipes

/// The `longslit_wave` recipe on files: one arc, bias subtracted, its lines identified at the
/// slit centre given by the CRV model, against the lamps' line list shipped as
/// `<config>/static/<INSTRUMENT>[_<ARM>]_arc_lines.dat`. The product (IDS_MODEL) holds the
/// arc, the polynomial λ(y) (`WAVE_SOLUTION`) and the lines used (`LINES`).
struct LongSlitWavelengthExecutor: RecipeExecutor {
    var name: String { LongSlitWavelengthSolution.name }
    var version: String { LongSlitWavelengthSolution.version }
    var staticFileSuffixes: [String] { [Self.lineListSuffix] }

    static let lineListSuffix = "_arc_lines.dat"

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try LongSlitWavelengthSolution(parameters: context.spec.parameters)
        let frames = try LongSlitFrames(context)
        guard let edgesPath = context.calibrations[.curvatureModel]?.path else {
            throw PipelineError.inputMismatch("no CRV model (slit edges) was chosen for this arc")
        }
        let edges = try LongSlitFrames.readEdges(path: edgesPath)
        let middle = Double(edges.rows.lowerBound + edges.rows.upperBound) / 2
        let centre = (edges.left.evaluate(middle, 0) + edges.right.evaluate(middle, 0)) / 2
        let listPath = ArcFrameLoader.staticPath(context: context, header: frames.header, suffix: Self.lineListSuffix)
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw PipelineError.configuration("line list \(listPath) is missing or unreadable")
        }
        let catalog = try LineCatalog.parse(text, source: listPath)
        context.logger.info("identifying arc lines", metadata: ["slit.centre": "\(centre)", "catalog.lines": "\(catalog.wavelengths.count)"])
        let result = try recipe.run(frames.image, slitCentre: centre, catalog: catalog.wavelengths)
        let s = result.solution.polynomial
        let solution = FITSTable(columns: [
            .int64(name: "YMIN", values: [Int64(result.rows.lowerBound)]),
            .int64(name: "YMAX", values: [Int64(result.rows.upperBound)]),
            .double(name: "XCENTRE", values: [centre], unit: "pix"),
            .doubleVector(name: "DEG", values: [s.degrees.map(Double.init)]),
            .doubleVector(name: "OFFSET", values: [s.offsets]),
            .doubleVector(name: "HALFRANGE", values: [s.halfRanges]),
            .doubleVector(name: "COEFFS", values: [s.coefficients], unit: "Angstrom"),
        ])
        let m = result.solution.matches
        let lines = FITSTable(columns: [
            .double(name: "Y", values: m.map { $0.position + Double(result.rows.lowerBound) }, unit: "pix"),
            .double(name: "WAVELENGTH", values: m.map(\.wavelength), unit: "Angstrom"),
            .double(name: "RESIDUAL", values: m.map(\.residual), unit: "Angstrom"),
            .double(name: "RESIDUAL_PIX", values: m.map(\.residualPixels), unit: "pix"),
            .bool(name: "USED", values: m.map { !$0.clipped }),
        ])
        return [ProductOutput(type: .inverseDispersionModel,
                              hdus: [.image(frames.image, name: "ARC", header: FITSHeader()),
                                     .table(solution, name: "WAVE_SOLUTION", header: FITSHeader()),
                                     .table(lines, name: "LINES", header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
