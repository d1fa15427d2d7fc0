import CalibCore
import FITS
import Foundation
import Recipes

/// The dispersion map as FITS binary tables: `DISP_MAP` (one row per axis,
/// X and Y: the polynomial's degrees, scaling and coefficients), `DISP_ORDERS`
/// (order number and its wavelength limits) and, written beside them, the
/// `LINES` table of every pinhole-map line (predicted, observed, fitted,
/// residual, clipped). Slit range in the DISP_MAP header (SLITMIN/SLITMAX).
public enum DispersionMapFile {
    public static let solutionExtension = "DISP_MAP"
    public static let ordersExtension = "DISP_ORDERS"
    public static let linesExtension = "LINES"

    /// - Parameter method: how the coefficients were found, for the header's FITMODE
    ///   (`free` polynomial, or `nominal+correction` of the given degrees).
    public static func hdus(_ solution: DispersionSolution, method: String? = nil) -> [ProductHDU] {
        let surfaces = [solution.x, solution.y]
        let table = FITSTable(columns: [
            .string(name: "AXIS", values: ["X", "Y"]),
            .doubleVector(name: "DEGREES", values: surfaces.map { $0.degrees.map(Double.init) }),
            .doubleVector(name: "OFFSETS", values: surfaces.map(\.offsets)),
            .doubleVector(name: "HALFRANGES", values: surfaces.map(\.halfRanges)),
            .doubleVector(name: "COEFFS", values: surfaces.map(\.coefficients)),
        ])
        var header = FITSHeader()
        header.set("VARIABLE", .string(solution.hasSlit ? "order,wavelength_nm,slit_arcsec" : "order,wavelength_nm"),
                   comment: "polynomial variables, in order")
        if let method { header.set("FITMODE", .string(method), comment: "free polynomial or nominal model + correction") }
        header.set("ORDMIN", .integer(Int64(solution.orders.first ?? 0)), comment: "lowest order fitted")
        header.set("ORDMAX", .integer(Int64(solution.orders.last ?? 0)), comment: "highest order fitted")
        if let s = solution.slitRange {
            header.set("SLITMIN", .real(s.lowerBound), comment: "[arcsec] lowest slit position fitted")
            header.set("SLITMAX", .real(s.upperBound), comment: "[arcsec] highest slit position fitted")
        }
        let orders = solution.orders.filter { solution.wavelengthLimits[$0] != nil }
        let ordersTable = FITSTable(columns: [
            .int64(name: "ORDER", values: orders.map(Int64.init)),
            .double(name: "WLMIN", values: orders.map { solution.wavelengthLimits[$0]!.lowerBound }, unit: "nm"),
            .double(name: "WLMAX", values: orders.map { solution.wavelengthLimits[$0]!.upperBound }, unit: "nm"),
        ])
        return [.table(table, name: solutionExtension, header: header), .table(ordersTable, name: ordersExtension, header: FITSHeader())]
    }

    public static func linesHDU(_ lines: [DispersionMapFit.Line]) -> ProductHDU {
        let table = FITSTable(columns: [
            .double(name: "WAVELENGTH", values: lines.map(\.entry.wavelength), unit: "nm"),
            .int64(name: "ORDER", values: lines.map { Int64($0.entry.order) }),
            .double(name: "SLIT", values: lines.map(\.entry.slit), unit: "arcsec"),
            .double(name: "MAP_X", values: lines.map(\.entry.x), unit: "px"),
            .double(name: "MAP_Y", values: lines.map(\.entry.y), unit: "px"),
            .double(name: "PRED_X", values: lines.map(\.predictedX), unit: "px"),
            .double(name: "PRED_Y", values: lines.map(\.predictedY), unit: "px"),
            .double(name: "OBS_X", values: lines.map(\.measurement.x), unit: "px"),
            .double(name: "OBS_Y", values: lines.map(\.measurement.y), unit: "px"),
            .double(name: "FIT_X", values: lines.map(\.fittedX), unit: "px"),
            .double(name: "FIT_Y", values: lines.map(\.fittedY), unit: "px"),
            .double(name: "RES_X", values: lines.map(\.residualX), unit: "px"),
            .double(name: "RES_Y", values: lines.map(\.residualY), unit: "px"),
            .double(name: "FWHM_X", values: lines.map(\.measurement.fwhmX), unit: "px"),
            .double(name: "FWHM_Y", values: lines.map(\.measurement.fwhmY), unit: "px"),
            .double(name: "FLUX", values: lines.map(\.measurement.flux), unit: "ADU"),
            .double(name: "PEAK_SNR", values: lines.map(\.measurement.peakSNR)),
            .int64(name: "QUALITY", values: lines.map { Int64($0.measurement.quality.rawValue) }),
            .bool(name: "CLIPPED", values: lines.map(\.clipped)),
        ])
        var header = FITSHeader()
        header.set("QUALITY", .string("0 good, 1 not detected, 2 fit failed, 3 off stamp, 4 bad width, 5 off detector"))
        return .table(table, name: linesExtension, header: header)
    }

    /// Reads the solution from a DISP_MAP or DISP_IMAGE product.
    public static func read(path: String) throws -> DispersionSolution {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(extensionName: solutionExtension)
        let header = try file.readHeader()
        let table = try file.readTable()
        guard let deg = table.doubleVectors("DEGREES"), let off = table.doubleVectors("OFFSETS"),
              let half = table.doubleVectors("HALFRANGES"), let coeffs = table.doubleVectors("COEFFS"), deg.count == 2
        else { throw PipelineError.inputMismatch("\(path): DISP_MAP table lacks DEGREES/OFFSETS/HALFRANGES/COEFFS for X and Y") }
        func surface(_ i: Int) -> PolynomialSurface {
            PolynomialSurface(degrees: deg[i].map { Int($0) }, offsets: off[i], halfRanges: half[i], coefficients: coeffs[i])
        }
        try file.moveTo(extensionName: ordersExtension)
        let orders = try file.readTable()
        guard let n = orders.ints("ORDER"), let lo = orders.doubles("WLMIN"), let hi = orders.doubles("WLMAX") else {
            throw PipelineError.inputMismatch("\(path): DISP_ORDERS table lacks ORDER/WLMIN/WLMAX")
        }
        var limits: [Int: ClosedRange<Double>] = [:]
        for i in n.indices { limits[Int(n[i])] = min(lo[i], hi[i])...max(lo[i], hi[i]) }
        // Checked: a NaN bound would trap in the range's precondition.
        let slit = header.double("SLITMIN").flatMap { a in header.double("SLITMAX").flatMap { b in a.isFinite && b.isFinite ? a...max(a, b) : nil } }
        return DispersionSolution(x: surface(0), y: surface(1), orders: n.map(Int.init).sorted(), wavelengthLimits: limits, slitRange: slit)
    }
}
