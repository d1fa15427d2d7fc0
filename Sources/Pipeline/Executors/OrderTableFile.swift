import FITS
import Recipes

/// The order table as a FITS binary table (extension `ORDERS`), one row per
/// order: its number, valid rows, and the centre/edge polynomials' degrees,
/// scaling and coefficients. The coefficients are the same for every row (a
/// global fit) but sit in each row so that any FITS reader sees a complete
/// description per order, as SOXSPIPE's order tables do.
public enum OrderTableFile {
    public static let extensionName = "ORDERS"

    public static func table(_ geometry: OrderGeometry) -> FITSTable {
        func surfaceColumns(_ name: String, _ s: PolynomialSurface?) -> [FITSTable.Column] {
            let n = geometry.orders.count
            guard let s else { return [] }
            return [
                .doubleVector(name: "\(name)_DEG", values: Array(repeating: s.degrees.map(Double.init), count: n)),
                .doubleVector(name: "\(name)_OFFSET", values: Array(repeating: s.offsets, count: n)),
                .doubleVector(name: "\(name)_HALFRANGE", values: Array(repeating: s.halfRanges, count: n)),
                .doubleVector(name: "\(name)_COEFFS", values: Array(repeating: s.coefficients, count: n)),
            ]
        }
        var columns: [FITSTable.Column] = [
            .int64(name: "ORDER", values: geometry.orders.map(Int64.init)),
            .int64(name: "YMIN", values: geometry.orders.map { Int64(geometry.rowRanges[$0]?.lowerBound ?? 0) }),
            .int64(name: "YMAX", values: geometry.orders.map { Int64(geometry.rowRanges[$0]?.upperBound ?? 0) }),
        ]
        columns += surfaceColumns("CENT", geometry.centre)
        columns += surfaceColumns("EDGELO", geometry.lowerEdge)
        columns += surfaceColumns("EDGEUP", geometry.upperEdge)
        return FITSTable(columns: columns)
    }

    public static func geometry(from table: FITSTable) throws -> OrderGeometry {
        guard let orders = table.ints("ORDER"), let ymin = table.ints("YMIN"), let ymax = table.ints("YMAX") else {
            throw PipelineError.inputMismatch("order table lacks ORDER/YMIN/YMAX columns")
        }
        func surface(_ name: String) -> PolynomialSurface? {
            guard let deg = table.doubleVectors("\(name)_DEG")?.first, let off = table.doubleVectors("\(name)_OFFSET")?.first,
                  let half = table.doubleVectors("\(name)_HALFRANGE")?.first, let coeffs = table.doubleVectors("\(name)_COEFFS")?.first
            else { return nil }
            return PolynomialSurface(degrees: deg.map { Int($0) }, offsets: off, halfRanges: half, coefficients: coeffs)
        }
        guard let centre = surface("CENT") else { throw PipelineError.inputMismatch("order table lacks the centre polynomial") }
        var ranges: [Int: ClosedRange<Int>] = [:]
        for (i, order) in orders.enumerated() { ranges[Int(order)] = Int(ymin[i])...Int(max(ymin[i], ymax[i])) }
        return OrderGeometry(orders: orders.map(Int.init), rowRanges: ranges, centre: centre,
                             lowerEdge: surface("EDGELO"), upperEdge: surface("EDGEUP"))
    }

    /// Reads the order table of a product file (ORDER_CENTRES or MFLAT).
    /// `name`: another table of the same layout, e.g. a stitched MFLAT's per-lamp `ORDERS_D2`.
    public static func read(path: String, extensionName name: String = extensionName) throws -> OrderGeometry {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(extensionName: name)
        return try geometry(from: try file.readTable())
    }
}
