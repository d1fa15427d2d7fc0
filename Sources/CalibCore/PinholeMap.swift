import Foundation

/// A static calibration: for each arc line and pinhole, its wavelength λ
/// (nm), physical order n, slit position s (arcsec) and a first-guess
/// detector position (X, Y) in pixels — the SOXSPIPE "pinhole map".
///
/// Positions are stored for one binning (usually 1, the unbinned detector)
/// and converted to another by `rebinned(x:y:)`: a binned pixel b covers
/// unbinned pixels b·B … b·B + B − 1, so with pixel centres at integers
/// x_B = (x₁ + ½)/B − ½ exactly, per axis (X-shooter's 1×2 mode bins y only).
/// `binning` is the x binning; the y binning is the `binningY` metadata line
/// (absent: the same as x).
///
/// File format (CSV with `#` comment lines): `# key: value` metadata lines
/// (`instrument`, `arm`, `binning`, `lineList`, …), a header line
/// `wavelength_nm,order,slit_arcsec,x_px,y_px,intensity`, one row per entry.
public struct PinholeMap: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public var wavelength: Double
        public var order: Int
        public var slit: Double
        public var x: Double
        public var y: Double
        /// Relative line intensity from the line list (for choosing the brightest lines).
        public var intensity: Double

        public init(wavelength: Double, order: Int, slit: Double, x: Double, y: Double, intensity: Double) {
            self.wavelength = wavelength; self.order = order; self.slit = slit; self.x = x; self.y = y; self.intensity = intensity
        }
    }

    public var entries: [Entry]
    /// Detector binning the positions are given for.
    public var binning: Int
    /// Free-form provenance (instrument, arm, line list, model).
    public var metadata: [String: String]

    public init(entries: [Entry], binning: Int, metadata: [String: String] = [:]) {
        self.entries = entries; self.binning = binning; self.metadata = metadata
    }

    /// Slit positions present, ascending.
    public var slitPositions: [Double] { Array(Set(entries.map(\.slit))).sorted() }

    /// The central pinhole's entries (slit position nearest 0).
    public var centralPinhole: PinholeMap {
        let centre = slitPositions.min { abs($0) < abs($1) } ?? 0
        return PinholeMap(entries: entries.filter { $0.slit == centre }, binning: binning, metadata: metadata)
    }

    /// Detector binning along y the positions are given for.
    public var binningY: Int { metadata["binningY"].flatMap { Int($0) } ?? binning }

    /// The same map for another binning, equal on both axes.
    public func rebinned(to newBinning: Int) -> PinholeMap { rebinned(x: newBinning, y: newBinning) }

    /// The same map for binning `newX` × `newY` (see the type's note for the formula).
    public func rebinned(x newX: Int, y newY: Int) -> PinholeMap {
        let oldY = binningY
        guard newX != binning || newY != oldY else { return self }
        let factorX = Double(binning) / Double(newX), factorY = Double(oldY) / Double(newY)
        var out = self
        out.binning = newX
        if newY == newX { out.metadata["binningY"] = nil } else { out.metadata["binningY"] = "\(newY)" }
        out.entries = entries.map { e in
            var c = e
            c.x = (e.x + 0.5) * factorX - 0.5; c.y = (e.y + 0.5) * factorY - 0.5
            return c
        }
        return out
    }

    public func csv() -> String {
        var out = ""
        for key in metadata.keys.sorted() { out += "# \(key): \(metadata[key]!)\n" }
        out += "# binning: \(binning)\n"
        out += "wavelength_nm,order,slit_arcsec,x_px,y_px,intensity\n"
        for e in entries {
            out += String(format: "%.6f,%d,%.4f,%.4f,%.4f,%.6g\n", e.wavelength, e.order, e.slit, e.x, e.y, e.intensity)
        }
        return out
    }

    /// Parses `csv()` output. A malformed row is an error naming its line: a
    /// static calibration with a broken row should be fixed, not half-read.
    public static func parse(_ text: String, source: String = "pinhole map") throws -> PinholeMap {
        var entries: [Entry] = []
        var metadata: [String: String] = [:]
        var binning = 1
        var sawHeader = false
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty { continue }
            if line.hasPrefix("#") {
                let body = line.dropFirst().trimmingCharacters(in: .whitespaces)
                if let colon = body.firstIndex(of: ":") {
                    let key = body[..<colon].trimmingCharacters(in: .whitespaces)
                    let value = body[body.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                    if key == "binning" { binning = Int(value) ?? 1 } else { metadata[key] = value }
                }
                continue
            }
            if !sawHeader { sawHeader = true; continue }
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count >= 5, let w = Double(f[0]), let n = Int(f[1]), let s = Double(f[2]), let x = Double(f[3]), let y = Double(f[4])
            else { throw PinholeMapError(source: source, line: number + 1, message: "expected wavelength,order,slit,x,y[,intensity]: '\(line)'") }
            entries.append(Entry(wavelength: w, order: n, slit: s, x: x, y: y, intensity: f.count > 5 ? Double(f[5]) ?? 1 : 1))
        }
        guard !entries.isEmpty else { throw PinholeMapError(source: source, line: 0, message: "no entries") }
        return PinholeMap(entries: entries, binning: binning, metadata: metadata)
    }

    public static func read(path: String) throws -> PinholeMap {
        try parse(try String(contentsOfFile: path, encoding: .utf8), source: path)
    }
}

/// A pinhole map file that cannot be read.
public struct PinholeMapError: Error, CustomStringConvertible, Sendable {
    public let source: String
    public let line: Int
    public let message: String
    public var description: String { "\(source):\(line): \(message)" }
}
