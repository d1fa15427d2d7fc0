/// What a structural check learned about a file without reading pixels.
public struct FITSSummary: Sendable {
    public let hduCount: Int
    public let primaryHeader: FITSHeader
    /// `FITSFile.imageShape()` of every HDU, in HDU order.
    public let hduShapes: [[Int]]
    /// For a `.gz` file, read from the decompressed stream: the header of the first extension
    /// holding an image of two or more axes, so that nobody needs to open (and so wholly
    /// decompress) the file again to classify it. Nil for other files and when there is none.
    public let imageExtensionHeader: FITSHeader?

    init(hduCount: Int, primaryHeader: FITSHeader, hduShapes: [[Int]], imageExtensionHeader: FITSHeader? = nil) {
        self.hduCount = hduCount
        self.primaryHeader = primaryHeader
        self.hduShapes = hduShapes
        self.imageExtensionHeader = imageExtensionHeader
    }
}
