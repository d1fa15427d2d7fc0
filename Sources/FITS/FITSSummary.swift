/// What a structural check learned about a file without reading pixels.
public struct FITSSummary: Sendable {
    public let hduCount: Int
    public let primaryHeader: FITSHeader
    /// `FITSFile.imageShape()` of every HDU, in HDU order.
    public let hduShapes: [[Int]]
}
