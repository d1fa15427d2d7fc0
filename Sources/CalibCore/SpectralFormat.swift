import Foundation

/// A static calibration: an echelle arm's spectral format — for each physical
/// order, the wavelength range that falls on the detector (SOXSPIPE's
/// `SPECTRAL_FORMAT_TAB_*` columns WLMINFUL/WLMAXFUL, nm, on the pinhole
/// tables' wavelength scale) and the continuum lamp that lights it in the
/// flats (X-shooter UVB: D2 for the blue orders, QTH for the rest; empty
/// when the table names none, i.e. one lamp for every order).
///
/// It is binning-independent: rows follow from a nominal dispersion model.
///
/// File format (CSV with `#` comment lines): `# key: value` metadata lines,
/// a header line `order,lamp,wlminful_nm,wlmaxful_nm`, one row per order.
public struct SpectralFormat: Sendable, Equatable {
    public struct Order: Sendable, Equatable {
        public var order: Int
        public var lamp: String
        public var minimumWavelength: Double
        public var maximumWavelength: Double

        public init(order: Int, lamp: String, minimumWavelength: Double, maximumWavelength: Double) {
            self.order = order; self.lamp = lamp
            self.minimumWavelength = minimumWavelength; self.maximumWavelength = maximumWavelength
        }
    }

    public var orders: [Order]
    public var metadata: [String: String]

    public init(orders: [Order], metadata: [String: String] = [:]) {
        self.orders = orders; self.metadata = metadata
    }

    public func csv() -> String {
        var out = ""
        for key in metadata.keys.sorted() { out += "# \(key): \(metadata[key]!)\n" }
        out += "order,lamp,wlminful_nm,wlmaxful_nm\n"
        for o in orders {
            out += "\(o.order),\(o.lamp)," + String(format: "%.4f,%.4f\n", o.minimumWavelength, o.maximumWavelength)
        }
        return out
    }

    /// Parses `csv()` output; a malformed row is an error naming its line.
    public static func parse(_ text: String, source: String = "spectral format") throws -> SpectralFormat {
        var orders: [Order] = []
        var metadata: [String: String] = [:]
        var sawHeader = false
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let body = line.dropFirst().trimmingCharacters(in: .whitespaces)
                if let colon = body.firstIndex(of: ":") {
                    metadata[body[..<colon].trimmingCharacters(in: .whitespaces)] =
                        body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                continue
            }
            if !sawHeader { sawHeader = true; continue }
            let f = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 4, let n = Int(f[0]), let low = Double(f[2]), let high = Double(f[3]), low < high else {
                throw PinholeMapError(source: source, line: number + 1, message: "expected order,lamp,wlminful_nm,wlmaxful_nm: '\(line)'")
            }
            orders.append(Order(order: n, lamp: f[1], minimumWavelength: low, maximumWavelength: high))
        }
        guard !orders.isEmpty else { throw PinholeMapError(source: source, line: 0, message: "no orders") }
        return SpectralFormat(orders: orders, metadata: metadata)
    }

    public static func read(path: String) throws -> SpectralFormat {
        try parse(try String(contentsOfFile: path, encoding: .utf8), source: path)
    }
}
