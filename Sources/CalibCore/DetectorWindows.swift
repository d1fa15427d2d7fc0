import FITS

/// The column windows of a raw frame — prescan at low x, the light-sensitive columns, overscan at
/// high x — from the profile's keywords, each checked before it becomes a range: an integer,
/// not negative, and leaving at least one light-sensitive column. A negative overscan width
/// once made the master bias build an inverted range and trap the daemon.
public struct DetectorWindows: Sendable, Equatable {
    /// Image width, pixels (NAXIS1).
    public let width: Int
    /// Prescan columns at low x (0 when the profile or header does not say).
    public let prescan: Int
    /// Overscan columns at high x (0 when the profile or header does not say).
    public let overscan: Int

    /// Columns of the light-sensitive area; never empty.
    public var science: Range<Int> { prescan..<(width - overscan) }
    /// Overscan columns, nil when there are none.
    public var overscanColumns: Range<Int>? { overscan > 0 ? (width - overscan)..<width : nil }

    /// Reads and checks the windows of a frame `width` pixels wide.
    public static func read(_ header: FITSHeader, layout: DetectorLayout, width: Int) -> Result<DetectorWindows, HeaderValueProblem> {
        guard width > 0 else {
            return .failure(HeaderValueProblem(keyword: "NAXIS1", description: "NAXIS1 = \(width): the image has no columns"))
        }
        func columns(_ key: String?) -> Result<Int, HeaderValueProblem> {
            guard let key, let value = header[key], value != .undefined else { return .success(0) }
            guard let count = HeaderValidation.integer(value) else {
                return .failure(.value(key, value, "is not an integer number of columns"))
            }
            guard count >= 0, count < Int64(width) else {
                return .failure(.value(key, value, "is not a number of columns between 0 and \(width - 1) (the image is \(width) columns wide)"))
            }
            return .success(Int(count))
        }
        let prescan: Int, overscan: Int
        switch columns(layout.prescanColumnsKey) {
        case .failure(let problem): return .failure(problem)
        case .success(let n): prescan = n
        }
        switch columns(layout.overscanColumnsKey) {
        case .failure(let problem): return .failure(problem)
        case .success(let n): overscan = n
        }
        // Written as a difference: overscan < width, so width − overscan ≥ 1, whereas the sum of
        // two values below Int.max can overflow (the seeded fuzz test found that).
        guard prescan < width - overscan else {
            let keys = [layout.prescanColumnsKey, layout.overscanColumnsKey].compactMap { $0 }
            return .failure(HeaderValueProblem(keyword: keys.last ?? "NAXIS1", description:
                "\(keys.joined(separator: " + ")) = \(prescan) + \(overscan) columns leave none of the \(width) columns light-sensitive"))
        }
        return .success(DetectorWindows(width: width, prescan: prescan, overscan: overscan))
    }
}
