import CalibCore
import FITS
import Foundation
import Recipes

/// Raw frames on disk, read a strip of rows at a time for stacking.
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

    public var frameCount: Int { readers.count }

    /// Largest frame accepted, pixels: 2³² (a 65536² mosaic; 16 GiB as Float).
    public static let maxPixels = 1 << 32

    public init(paths: [String]) throws {
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
        width = shape[0]
        height = shape[1]
    }

    public func read(frame: Int, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try readers[frame].read(rows: rows, into: buffer)
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
