import Foundation

/// A static bad-pixel map as a list of pixels (`<INSTRUMENT>_<ARM>[_<BX>x<BY>]_bad_pixels.csv`),
/// converted from an instrument's own map (SOXSPIPE's `BP_MAP_RP_*`): 0-based pixel
/// centres of the trimmed, oriented frame the pinhole maps use, at the file's binning.
/// The simulator injects them; a recipe could seed its mask with them.
///
/// File format: `# key: value` metadata lines, then `x,y` and one row per pixel.
public struct StaticBadPixels: Sendable, Equatable {
    public struct Pixel: Sendable, Hashable {
        public var x: Int
        public var y: Int
        public init(x: Int, y: Int) { self.x = x; self.y = y }
    }

    public var pixels: [Pixel]
    public var metadata: [String: String]

    public init(pixels: [Pixel], metadata: [String: String]) {
        self.pixels = pixels; self.metadata = metadata
    }

    public func csv() -> String {
        var out = ""
        for key in metadata.keys.sorted() { out += "# \(key): \(metadata[key]!)\n" }
        out += "x,y\n"
        for p in pixels { out += "\(p.x),\(p.y)\n" }
        return out
    }

    /// Parses `csv()` output; a malformed row is an error naming its line.
    public static func parse(_ text: String, source: String = "bad-pixel list") throws -> StaticBadPixels {
        var pixels: [Pixel] = []
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
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            guard f.count == 2, let x = Int(f[0]), let y = Int(f[1]), x >= 0, y >= 0 else {
                throw PinholeMapError(source: source, line: number + 1, message: "expected x,y (non-negative integers): '\(line)'")
            }
            pixels.append(Pixel(x: x, y: y))
        }
        return StaticBadPixels(pixels: pixels, metadata: metadata)
    }

    public static func read(path: String) throws -> StaticBadPixels {
        try parse(try String(contentsOfFile: path, encoding: .utf8), source: path)
    }
}
