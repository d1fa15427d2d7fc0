import CalibCore
import FITS
import Foundation
import Recipes

/// What the long-slit recipes read around their numerical core: the job's input frames
/// turned by the profile, with the master bias subtracted, σ-clip combined (one frame is
/// taken as it is), cropped to the light-sensitive columns.
struct LongSlitFrames {
    var image: Image
    /// The first frame's header: its primary header followed by its image extension's cards
    /// when the pixels are in an extension (ISIS), as ingest reads it.
    var header: FITSHeader
    /// Frames combined, and frames left out by the screen with the reason (file: reason).
    var framesUsed: Int
    var rejections: [String] = []

    init(_ context: JobContext, screen: FlatFrameScreen? = nil, rows: ClosedRange<Int>? = nil,
         clipSigma: Double = 3, clipIterations: Int = 3) throws {
        let paths = try context.inputPaths
        let stack = try context.frameStack(paths)
        header = try Self.fullHeader(path: paths[0], imageHeader: stack.headers[0])
        guard let biasPath = context.calibrations[.masterBias]?.path else {
            throw PipelineError.inputMismatch("no master bias was chosen for these frames")
        }
        let biasFile = try FITSFile.open(biasPath)
        let biasPixels: [Float] = try biasFile.readImage()
        try biasFile.close()
        guard biasPixels.count == stack.width * stack.height else {
            throw PipelineError.inputMismatch("master bias \(biasPath) has \(biasPixels.count) pixels, the frames \(stack.width)×\(stack.height)")
        }
        let bias = Image(width: stack.width, height: stack.height, pixels: biasPixels)
        let regions = try DetectorGeometry.regions(width: stack.width, header: stack.headers[0], layout: context.profile.detector,
                                                   path: stack.paths[0], orientation: stack.orientation,
                                                   scienceColumns: context.profile.scienceColumns(of: header))
        var frames = Array(0..<stack.frameCount)
        var scales: [Float]?
        if let screen {
            let saturation = Float(context.profile.saturationADU(of: header) ?? 65535)
            let light = rows.map { max(0, $0.lowerBound)..<min(stack.height, $0.upperBound + 1) } ?? 0..<stack.height
            var fractions: [Double] = [], levels: [Double] = []
            for f in 0..<stack.frameCount {
                let raw = try stack.image(f)
                var saturated = 0, sample: [Float] = []
                sample.reserveCapacity(light.count * regions.science.count / 7 + 1)
                for y in light {
                    for x in regions.science {
                        let i = y * raw.width + x
                        if raw.pixels[i] >= saturation { saturated += 1 }
                        // Every 7th pixel is ample for a median level.
                        if i % 7 == 0 { sample.append(raw.pixels[i] - bias.pixels[i]) }
                    }
                }
                fractions.append(Double(saturated) / Double(max(1, light.count * regions.science.count)))
                levels.append(RobustStatistics.medianInPlace(&sample))
            }
            let verdict = screen.judge(saturatedFractions: fractions, levels: levels)
            rejections = verdict.rejected.map { "\((paths[$0.index] as NSString).lastPathComponent): \($0.reason)" }
            guard !verdict.accepted.isEmpty else {
                throw PipelineError.inputMismatch("no usable flat: " + rejections.joined(separator: "; "))
            }
            frames = verdict.accepted
            scales = verdict.scales
        }
        framesUsed = frames.count
        let corrected = CorrectedFrames(stack, subtracting: bias, columns: regions.science, frames: frames)
        image = try SigmaClippedStack(sigma: clipSigma, iterations: clipIterations).combine(corrected, scale: scales).image
    }

    /// The primary header and, when the primary holds no pixels, the image extension's cards after it.
    static func fullHeader(path: String, imageHeader: FITSHeader) throws -> FITSHeader {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        // HDU numbers count from 1 (cfitsio's): 1 is the primary.
        guard try file.firstImageHDU() != 1 else { return imageHeader }
        _ = try file.moveTo(hdu: 1)
        var header = try file.readHeader()
        header.cards += imageHeader.cards.filter { header[$0.key] == nil }
        return header
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
