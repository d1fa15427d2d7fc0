import CalibCore
import FITS
import Foundation
import Recipes

/// Raw frames on disk, read a strip of rows at a time for stacking, turned
/// by the instrument's `FrameOrientation` (width and height are the turned
/// frame's).
///
/// Flips and the 180° rotation read the mirrored strip and reorder it in
/// place; an orientation that swaps the axes needs whole raw columns for an
/// output strip, so it reads just those columns (a rectangle of the raw frame,
/// as large as the strip) and reorders them. Nothing is kept between strips:
/// keeping whole Float copies of every frame for the stack's life made a
/// transposed stack hold W·H·4 bytes a frame (30 MB for Kast's ten biases)
/// on top of cfitsio's own decompressed copy of each gzipped file.
///
/// The files stay open for the life of the stack. A cfitsio handle is not
/// thread-safe, so each frame's reads are serialised by its own lock; reads
/// of different frames may run at once (cfitsio's own calls still take turns
/// under its process-wide lock, the conversion to Float does not — see
/// `FITSStripReader`).
public final class FITSFrameStack: FrameStripSource, @unchecked Sendable {
    public let paths: [String]
    public let width: Int
    public let height: Int
    public let headers: [FITSHeader]
    private let readers: [FITSStripReader]
    public let orientation: FrameOrientation
    /// Size of the frames as stored.
    public let rawWidth: Int
    public let rawHeight: Int
    /// The rows of the turned frame the stack shows (`height` of them, row 0 the first): the
    /// profile's `detector.scienceRows`, or every row.
    public let rowWindow: Range<Int>

    public var frameCount: Int { readers.count }

    /// Largest frame accepted, pixels: 2³² (a 65536² mosaic; 16 GiB as Float).
    public static let maxPixels = 1 << 32

    /// `orientation` picks each stack's orientation from its first header (frames of one job share a setup);
    /// `rows`, likewise, the rows of the turned frame to keep (nil: all).
    public init(paths: [String], orientation: ((FITSHeader) -> FrameOrientation)? = nil,
                rows: ((FITSHeader) -> Range<Int>?)? = nil) throws {
        var files: [(FITSFile, [Int])] = []
        var headers: [FITSHeader] = []
        var shape: [Int]?
        for path in paths {
            let file = try FITSFile.open(path)
            let hdu = try file.firstImageHDU()
            try file.moveTo(hdu: hdu)
            let this = try file.imageShape()
            guard this.count == 2 else {
                throw PipelineError.inputMismatch("\(path) is not a 2D image (NAXIS = \(this.count))")
            }
            // NAXISn come from the file, which may have changed since ingest checked it.
            let (pixels, overflow) = this[0].multipliedReportingOverflow(by: this[1])
            guard this[0] > 0, this[1] > 0, !overflow, pixels <= Self.maxPixels else {
                throw PipelineError.inputMismatch("\(path) is \(this[0])×\(this[1]) pixels: not an image a recipe can hold (at most \(Self.maxPixels) pixels)")
            }
            if let shape, shape != this {
                throw PipelineError.inputMismatch("\(path) is \(this[0])×\(this[1]) but \(paths[0]) is \(shape[0])×\(shape[1])")
            }
            shape = this
            headers.append(try file.readHeader())
            files.append((file, this))
        }
        guard let shape else { throw PipelineError.inputMismatch("no input frames") }
        self.paths = paths
        readers = try files.map { try FITSStripReader(file: $0.0, width: $0.1[0]) }
        self.headers = headers
        self.orientation = orientation?(headers[0]) ?? .none
        rawWidth = shape[0]
        rawHeight = shape[1]
        let turned = self.orientation.orientedSize(width: shape[0], height: shape[1])
        let window = rows?(headers[0]) ?? 0..<turned.height
        guard window.lowerBound >= 0, window.upperBound <= turned.height, !window.isEmpty else {
            throw PipelineError.configuration("detector.scienceRows \(window) is not within the \(turned.height) rows of \(paths[0])")
        }
        rowWindow = window
        (width, height) = (turned.width, window.count)
    }

    public func read(frame: Int, rows window: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let rows = (window.lowerBound + rowWindow.lowerBound)..<(window.upperBound + rowWindow.lowerBound)
        let mirrored = (rawHeight - rows.upperBound)..<(rawHeight - rows.lowerBound)
        switch orientation {
        case .none:
            try readers[frame].read(rows: rows, into: buffer)
        case .flipX:
            try readers[frame].read(rows: rows, into: buffer)
            for r in 0..<rows.count { buffer[(r * width)..<((r + 1) * width)].reverse() }
        case .flipY:
            try readers[frame].read(rows: mirrored, into: buffer)
            for r in 0..<(rows.count / 2) {
                for x in 0..<width { buffer.swapAt(r * width + x, (rows.count - 1 - r) * width + x) }
            }
        case .rotate180:
            // Reversing the mirrored strip reverses its rows and every row's columns at once.
            try readers[frame].read(rows: mirrored, into: buffer)
            buffer[0..<(rows.count * width)].reverse()
        case .rotate90, .rotate270, .transpose:
            // These rows of the turned frame are raw columns (every raw row of them).
            let ends = [rows.lowerBound, rows.upperBound - 1].map { orientation.rawPixel(x: 0, y: $0, width: rawWidth, height: rawHeight).x }
            let columns = ends.min()!..<(ends.max()! + 1)
            var raw = [Float](repeating: 0, count: columns.count * rawHeight)
            try raw.withUnsafeMutableBufferPointer { try readers[frame].read(columns: columns, rows: 0..<rawHeight, into: $0) }
            raw.withUnsafeBufferPointer { raw in
                for (r, y) in rows.enumerated() {
                    for x in 0..<width {
                        let source = orientation.rawPixel(x: x, y: y, width: rawWidth, height: rawHeight)
                        buffer[r * width + x] = raw[source.y * columns.count + (source.x - columns.lowerBound)]
                    }
                }
            }
        }
    }

    /// Reads a whole frame (for recipes that need it entire).
    public func image(_ frame: Int) throws -> Image {
        var pixels = [Float](repeating: 0, count: width * height)
        try pixels.withUnsafeMutableBufferPointer { try read(frame: frame, rows: 0..<height, into: $0) }
        return Image(width: width, height: height, pixels: pixels)
    }
}

/// Errors of the pipeline itself (not of one bad frame, which is recorded instead).
public enum PipelineError: Error, CustomStringConvertible {
    case inputMismatch(String)
    case unknownRecipe(String)
    case configuration(String)
    case productWrite(String)

    public var description: String {
        switch self {
        case .inputMismatch(let s): "inputs do not fit together: \(s)"
        case .unknownRecipe(let s): "no recipe implementation named '\(s)'"
        case .configuration(let s): "configuration: \(s)"
        case .productWrite(let s): "writing product: \(s)"
        }
    }
}
