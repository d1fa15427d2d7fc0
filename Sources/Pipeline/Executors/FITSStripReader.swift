import FITS
import Foundation

/// One open raw frame of a `FITSFrameStack`, read a strip of rows at a time
/// as Float.
///
/// Raw frames are 16-bit integers (BITPIX 16, BZERO 0 or 32768). cfitsio
/// converts those to Float under its process-wide lock, which serialises the
/// conversion of all frames; here they are read as their own integer type
/// (cfitsio only swaps bytes) and converted in Swift after the lock is
/// released, so several frames convert at once. The values are exactly those
/// of a Float read (every 16-bit integer is a Float). Other images (scaled,
/// with a BLANK value, floating point) are read as Float by cfitsio.
///
/// A cfitsio handle is not thread-safe: each reader has its own lock, so
/// different frames can be read concurrently while reads of one frame queue.
final class FITSStripReader: @unchecked Sendable {
    let file: FITSFile
    private let width: Int
    private let sixteenBit: FITSFile.SixteenBitType?
    private let lock = NSLock()
    /// Integer rows read before conversion (allocated at the first read, `scratchRows` × width).
    private var scratch: UnsafeMutableRawBufferPointer?
    /// Rows converted per cfitsio call: bounds the scratch buffer (≈ 1 MiB for 4096 columns).
    private let scratchRows = 128

    init(file: FITSFile, width: Int) throws {
        self.file = file
        self.width = width
        sixteenBit = try file.exactSixteenBitType()
    }

    deinit { scratch?.deallocate() }

    /// Fills `buffer` (rows.count × columns.count floats, row after row) with the rectangle
    /// `columns` × `rows`: the raw columns one strip of a transposed frame needs. Converted
    /// like `read(rows:into:)`, in chunks of rows that fit the same scratch buffer.
    func read(columns: Range<Int>, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try lock.withLock {
            guard let sixteenBit else {
                try file.readRectangle(columns: columns, rows: rows, into: buffer)
                return
            }
            let scratch = self.scratch ?? UnsafeMutableRawBufferPointer.allocate(byteCount: scratchRows * width * 2, alignment: 16)
            self.scratch = scratch
            for first in stride(from: rows.lowerBound, to: rows.upperBound, by: scratchRows) {
                let chunk = first..<min(first + scratchRows, rows.upperBound)
                let count = chunk.count * columns.count
                let out = buffer.baseAddress! + (first - rows.lowerBound) * columns.count
                switch sixteenBit {
                case .uint16:
                    let integers = scratch.bindMemory(to: UInt16.self)
                    try file.readRectangle(columns: columns, rows: chunk, into: integers)
                    for i in 0..<count { out[i] = Float(integers[i]) }
                case .int16:
                    let integers = scratch.bindMemory(to: Int16.self)
                    try file.readRectangle(columns: columns, rows: chunk, into: integers)
                    for i in 0..<count { out[i] = Float(integers[i]) }
                }
            }
        }
    }

    /// Fills `buffer` (rows.count × width floats) with `rows` of the image.
    func read(rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try lock.withLock {
            guard let sixteenBit else {
                try file.readRows(rows, into: buffer)
                return
            }
            let scratch = self.scratch ?? UnsafeMutableRawBufferPointer.allocate(byteCount: scratchRows * width * 2, alignment: 16)
            self.scratch = scratch
            for first in stride(from: rows.lowerBound, to: rows.upperBound, by: scratchRows) {
                let chunk = first..<min(first + scratchRows, rows.upperBound)
                let count = chunk.count * width
                let out = buffer.baseAddress! + (first - rows.lowerBound) * width
                switch sixteenBit {
                case .uint16:
                    let integers = scratch.bindMemory(to: UInt16.self)
                    try file.readRows(chunk, into: integers)
                    for i in 0..<count { out[i] = Float(integers[i]) }
                case .int16:
                    let integers = scratch.bindMemory(to: Int16.self)
                    try file.readRows(chunk, into: integers)
                    for i in 0..<count { out[i] = Float(integers[i]) }
                }
            }
        }
    }
}
