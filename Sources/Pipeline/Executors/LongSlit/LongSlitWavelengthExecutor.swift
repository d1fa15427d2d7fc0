import CalibCore
import FITS
import Foundation
import Recipes

/// The `longslit_wave` recipe on files: one arc, bias subtracted, its lines identified at the
/// slit centre given by the CRV model, against the lamps' line list shipped as
/// `<config>/static/<INSTRUMENT>[_<ARM>]_arc_lines.dat`, then followed along the slit. The
/// product (IDS_MODEL) holds the arc, the wavelength and slit-position images (`WAVE`,
/// `SLITPOS`), the polynomial λ(y) at the slit centre (`WAVE_SOLUTION`), the lines' shift
/// along the slit Δy(x, y₀) (`TILT`) and the lines used (`LINES`).
struct LongSlitWavelengthExecutor: RecipeExecutor {
    var name: String { LongSlitWavelengthSolution.name }
    var version: String { LongSlitWavelengthSolution.version }
    var staticFileSuffixes: [String] { [Self.lineListSuffix] }

    static let lineListSuffix = "_arc_lines.dat"

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try LongSlitWavelengthSolution(parameters: context.parameters)
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
        let left = edges.left, right = edges.right
        let result = try recipe.run(frames.image, slitCentre: centre, catalog: catalog.wavelengths,
                                    edges: (left: { left.evaluate($0, 0) }, right: { right.evaluate($0, 0) }))
        let maps = LongSlitPixelMaps.make(width: frames.image.width, height: frames.image.height, wavelength: result, left: left, right: right)
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
        // Δy(x, y₀): the shift of a line from its row y₀ at the slit centre, at column x.
        let t = result.tilt?.surface ?? PolynomialSurface(degrees: [0, 0], offsets: [0, 0], halfRanges: [1, 1], coefficients: [0])
        let tilt = FITSTable(columns: [
            .doubleVector(name: "DEG", values: [t.degrees.map(Double.init)]),
            .doubleVector(name: "OFFSET", values: [t.offsets]),
            .doubleVector(name: "HALFRANGE", values: [t.halfRanges]),
            .doubleVector(name: "COEFFS", values: [t.coefficients], unit: "pix"),
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
                                     .image(maps.wavelength, name: "WAVE", header: FITSHeader()),
                                     .image(maps.slitPosition, name: "SLITPOS", header: FITSHeader()),
                                     .table(solution, name: "WAVE_SOLUTION", header: FITSHeader()),
                                     .table(tilt, name: "TILT", header: FITSHeader()),
                                     .table(lines, name: "LINES", header: FITSHeader())],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
