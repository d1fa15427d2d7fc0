/// How a raw frame is turned before reduction, so that every instrument
/// reaches the recipes with orders stacked along x and dispersion along y
/// (the convention of calibd's recipes and of the static pinhole maps).
/// Configured per instrument (`detector.orientation`), never in code.
///
/// Pixel mapping for a raw frame of W × H (x = column, y = row, 0-based):
/// - `rotate180`: out[x, y] = raw[W−1−x, H−1−y] (W × H)
/// - `rotate90`: out[x, y] = raw[W−1−y, x] (H × W) — SOXSPIPE's `clockwise-rotation: 90`,
///   numpy's `rot90(data, 1)` on a [row, column] array
/// - `rotate270`: out[x, y] = raw[y, H−1−x] (H × W) — numpy's `rot90(data, 3)`
/// - `flipX`: out[x, y] = raw[W−1−x, y]; `flipY`: out[x, y] = raw[x, H−1−y]
/// - `transpose`: out[x, y] = raw[y, x] (H × W)
public enum FrameOrientation: String, Sendable, Codable, Equatable, CaseIterable {
    case none, rotate90, rotate180, rotate270, flipX, flipY, transpose

    /// Whether the frame's axes trade places.
    public var swapsAxes: Bool { self == .rotate90 || self == .rotate270 || self == .transpose }

    /// Oriented size (width, height) of a raw frame of `width` × `height`.
    public func orientedSize(width: Int, height: Int) -> (width: Int, height: Int) {
        swapsAxes ? (height, width) : (width, height)
    }

    /// The raw pixel (x, y) an oriented pixel (x, y) comes from, for a raw frame of `width` × `height`.
    public func rawPixel(x: Int, y: Int, width: Int, height: Int) -> (x: Int, y: Int) {
        switch self {
        case .none: (x, y)
        case .rotate180: (width - 1 - x, height - 1 - y)
        case .rotate90: (width - 1 - y, x)
        case .rotate270: (y, height - 1 - x)
        case .flipX: (width - 1 - x, y)
        case .flipY: (x, height - 1 - y)
        case .transpose: (y, x)
        }
    }

    /// Where raw columns `raw` (of a raw frame `width` wide) lie in the oriented frame, for the
    /// orientations that keep columns as columns (nil for those that turn them into rows).
    public func orientedColumns(_ raw: Range<Int>, width: Int) -> Range<Int>? {
        switch self {
        case .none, .flipY: raw
        case .rotate180, .flipX: (width - raw.upperBound)..<(width - raw.lowerBound)
        case .rotate90, .rotate270, .transpose: nil
        }
    }
}
