import CalibCore
import FITS
import Foundation
import Recipes

/// The OPT model product's tables: `OPT_POLY` (rows X and Y: the polynomials x(X, Y), y(X, Y) of
/// the mask coordinates, mm → px at λ_ref) and `APERTURES` (per slit or hole: its mask points and
/// their measured detector positions, or why it was not found).
enum OpticalModelFile {
    static let polynomialTableName = "OPT_POLY"
    static let apertureTableName = "APERTURES"

    /// x and y may have different degrees (a long slit's x is linear): COEFFS is padded with
    /// zeros to the longer of the two, NCOEFFS says how many are the polynomial's.
    static func polynomialTable(_ result: OpticalModelFinder.Result) -> FITSTable {
        let rows = [("X", result.x), ("Y", result.y)]
        let width = rows.map(\.1.coefficients.count).max() ?? 0
        return FITSTable(columns: [
            .string(name: "AXIS", values: rows.map(\.0)),
            .doubleVector(name: "DEG", values: rows.map { $0.1.degrees.map(Double.init) }),
            .doubleVector(name: "OFFSET", values: rows.map { $0.1.offsets }),
            .doubleVector(name: "HALFRANGE", values: rows.map { $0.1.halfRanges }),
            .int64(name: "NCOEFFS", values: rows.map { Int64($0.1.coefficients.count) }),
            .doubleVector(name: "COEFFS", values: rows.map { $0.1.coefficients + Array(repeating: 0, count: width - $0.1.coefficients.count) },
                          unit: "pix"),
        ])
    }

    /// Columns MASK_X/MASK_Y and DET_X/DET_Y hold a slit's two ends (or a hole's one centre); NaN when not found.
    static func apertureTable(_ result: OpticalModelFinder.Result) -> FITSTable {
        let a = result.apertures
        func pair(_ points: [(x: Double, y: Double)], _ axis: KeyPath<(x: Double, y: Double), Double>, count: Int) -> [Double] {
            (0..<2).map { $0 < points.count && $0 < count ? points[$0][keyPath: axis] : .nan }
        }
        return FITSTable(columns: [
            .string(name: "ID", values: a.map(\.id)),
            .bool(name: "HOLE", values: a.map(\.isHole)),
            .bool(name: "FOUND", values: a.map { $0.failure == nil }),
            .doubleVector(name: "MASK_X", values: a.map { pair($0.maskPoints, \.x, count: 2) }),
            .doubleVector(name: "MASK_Y", values: a.map { pair($0.maskPoints, \.y, count: 2) }),
            .doubleVector(name: "DET_X", values: a.map { pair($0.detectorPoints, \.x, count: $0.detectorPoints.count) }),
            .doubleVector(name: "DET_Y", values: a.map { pair($0.detectorPoints, \.y, count: $0.detectorPoints.count) }),
            .string(name: "FAILURE", values: a.map { $0.failure ?? "-" }),
        ])
    }

    /// The slits (not holes) of an OPT_MODEL product as seeds of the CRV tracing.
    static func readSeeds(path: String) throws -> [MultiSlitEdgeTrace.Seed] {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(extensionName: apertureTableName)
        let table = try file.readTable()
        guard let ids = table.strings("ID"), let holes = table.bools("HOLE"), let found = table.bools("FOUND"),
              let x = table.doubleVectors("DET_X"), let y = table.doubleVectors("DET_Y") else {
            throw PipelineError.inputMismatch("\(path): the \(apertureTableName) table lacks ID, HOLE, FOUND, DET_X or DET_Y")
        }
        return ids.indices.filter { !holes[$0] }.map { i in
            let id = ids[i].trimmingCharacters(in: .whitespaces)
            guard found[i], x[i].count == 2, y[i].count == 2, x[i].allSatisfy(\.isFinite), y[i].allSatisfy(\.isFinite) else {
                return MultiSlitEdgeTrace.Seed(id: id, ends: nil)
            }
            return MultiSlitEdgeTrace.Seed(id: id, ends: [(x[i][0], y[i][0]), (x[i][1], y[i][1])])
        }
    }

    /// The OPT polynomials x(X, Y), y(X, Y) of an OPT_MODEL product.
    static func readPolynomials(path: String) throws -> (x: PolynomialSurface, y: PolynomialSurface) {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(extensionName: polynomialTableName)
        let table = try file.readTable()
        guard let axes = table.strings("AXIS"), let deg = table.doubleVectors("DEG"), let off = table.doubleVectors("OFFSET"),
              let half = table.doubleVectors("HALFRANGE"), let coeffs = table.doubleVectors("COEFFS"), let counts = table.ints("NCOEFFS"),
              let ix = axes.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "X" }),
              let iy = axes.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "Y" }) else {
            throw PipelineError.inputMismatch("\(path): the \(polynomialTableName) table lacks its X/Y polynomials")
        }
        func surface(_ k: Int) -> PolynomialSurface {
            PolynomialSurface(degrees: deg[k].map { Int($0) }, offsets: off[k], halfRanges: half[k],
                              coefficients: Array(coeffs[k].prefix(Int(counts[k]))))
        }
        return (surface(ix), surface(iy))
    }

    /// The CRV model's per-slit edge table (`MOS_EDGES`): one row per traced edge.
    static let edgeTableName = "MOS_EDGES"

    static func edgeTable(_ result: MultiSlitEdgeTrace.Result) -> FITSTable {
        let rows = result.slits.flatMap { slit -> [(String, String, MultiSlitEdgeTrace.Edge)] in
            [("LOW", slit.low), ("HIGH", slit.high)].compactMap { name, edge in edge.map { (slit.id, name, $0) } }
        }
        return FITSTable(columns: [
            .string(name: "SLIT", values: rows.map(\.0)),
            .string(name: "EDGE", values: rows.map(\.1)),
            .double(name: "YMIN", values: rows.map { $0.2.rows.lowerBound }, unit: "pix"),
            .double(name: "YMAX", values: rows.map { $0.2.rows.upperBound }, unit: "pix"),
            .doubleVector(name: "DEG", values: rows.map { $0.2.curve.degrees.map(Double.init) }),
            .doubleVector(name: "OFFSET", values: rows.map { $0.2.curve.offsets }),
            .doubleVector(name: "HALFRANGE", values: rows.map { $0.2.curve.halfRanges }),
            .doubleVector(name: "COEFFS", values: rows.map { $0.2.curve.coefficients }, unit: "pix"),
            .double(name: "RMS", values: rows.map { $0.2.rms }, unit: "pix"),
        ])
    }
}
