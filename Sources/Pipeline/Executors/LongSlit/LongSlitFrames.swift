import CalibCore
import FITS
import Foundation
import Recipes

/// What the long-slit recipes read around their numerical core: the job's input frames
/// turned by the profile, with the master bias subtracted, σ-clip combined (one frame is
/// taken as it is), cropped to the light-sensitive columns.
struct LongSlitFrames {
    var image: Image
    var header: FITSHeader

    init(_ context: JobContext, clipSigma: Double = 3, clipIterations: Int = 3) throws {
        let stack = try FITSFrameStack(paths: try context.inputPaths, orientation: context.profile.orientation(of:))
        header = stack.headers[0]
        guard let biasPath = context.calibrations[.masterBias]?.path else {
            throw PipelineError.inputMismatch("no master bias was chosen for these frames")
        }
        let biasFile = try FITSFile.open(biasPath)
        let bias: [Float] = try biasFile.readImage()
        try biasFile.close()
        guard bias.count == stack.width * stack.height else {
            throw PipelineError.inputMismatch("master bias \(biasPath) has \(bias.count) pixels, the frames \(stack.width)×\(stack.height)")
        }
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation, scienceColumns: context.profile.scienceColumns(of: header))
        let corrected = CorrectedFrames(stack, subtracting: Image(width: stack.width, height: stack.height, pixels: bias),
                                        columns: regions.science)
        image = try SigmaClippedStack(sigma: clipSigma, iterations: clipIterations).combine(corrected).image
    }

    /// The CRV model's edge table (extension `SLIT_EDGES`): one row per edge, its polynomial x(y).
    static let edgeTableName = "SLIT_EDGES"

    static func edgeTable(_ result: SlitEdgeTrace.Result) -> FITSTable {
        let edges = [("LEFT", result.left), ("RIGHT", result.right), ("ILLUM_LEFT", result.illuminatedLeft), ("ILLUM_RIGHT", result.illuminatedRight)]
        return FITSTable(columns: [
            .string(name: "EDGE", values: edges.map(\.0)),
            .int64(name: "YMIN", values: edges.map { _ in Int64(result.rows.lowerBound) }),
            .int64(name: "YMAX", values: edges.map { _ in Int64(result.rows.upperBound) }),
            .doubleVector(name: "DEG", values: edges.map { $0.1.curve.degrees.map(Double.init) }),
            .doubleVector(name: "OFFSET", values: edges.map { $0.1.curve.offsets }),
            .doubleVector(name: "HALFRANGE", values: edges.map { $0.1.curve.halfRanges }),
            .doubleVector(name: "COEFFS", values: edges.map { $0.1.curve.coefficients }),
            .double(name: "RMS", values: edges.map { $0.1.rms }, unit: "pix"),
        ])
    }

    /// The optical edges' polynomials x(y) and traced rows from a CRV_MODEL product.
    static func readEdges(path: String) throws -> (left: PolynomialSurface, right: PolynomialSurface, rows: ClosedRange<Int>) {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(extensionName: edgeTableName)
        let table = try file.readTable()
        guard let names = table.strings("EDGE"), let deg = table.doubleVectors("DEG"), let off = table.doubleVectors("OFFSET"),
              let half = table.doubleVectors("HALFRANGE"), let coeffs = table.doubleVectors("COEFFS"),
              let ymin = table.ints("YMIN"), let ymax = table.ints("YMAX"),
              let l = names.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "LEFT" }),
              let r = names.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "RIGHT" })
        else { throw PipelineError.inputMismatch("\(path): the \(edgeTableName) table lacks its LEFT/RIGHT edge polynomials") }
        func surface(_ k: Int) -> PolynomialSurface {
            PolynomialSurface(degrees: deg[k].map { Int($0) }, offsets: off[k], halfRanges: half[k], coefficients: coeffs[k])
        }
        return (surface(l), surface(r), Int(ymin[l])...Int(max(ymin[l], ymax[l])))
    }
}
