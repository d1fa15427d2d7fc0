import Foundation
import Glibc
import Testing
@testable import FITS

/// Damaged and hostile files are refused by the structural check with a reason, never taken as
/// usable, never trapping, and with memory bounded whatever the file claims.
@Suite("Damaged files are caught at the door")
struct DamagedFileTests {
    /// A gzip-compressed 64 × 48 frame with a keyword in its header.
    func gzippedFrame(_ scratch: Scratch, name: String = "frame.fits") throws -> String {
        let path = scratch.path(name)
        var header = FITSHeader()
        header.set("ESO DPR CATG", .string("CALIB"))
        try writeSingleImage((0..<64 * 48).map { UInt16(truncatingIfNeeded: $0 * 31) }, width: 64, height: 48, to: path, header: header)
        try gzip(path)
        return path + ".gz"
    }

    func failure(_ path: String, maxDecompressedBytes: Int64 = CompressedFileCheck.defaultMaxDecompressedBytes) -> FITSError? {
        if case .failure(let error) = FITSIntegrity.check(path: path, maxDecompressedBytes: maxDecompressedBytes) { return error }
        return nil
    }

    @Test("A whole .gz is checked from the stream; its header is read without cfitsio")
    func goodGzip() throws {
        let scratch = try Scratch()
        let summary = try FITSIntegrity.check(path: try gzippedFrame(scratch)).get()
        #expect(summary.hduShapes == [[64, 48]])
        #expect(summary.primaryHeader.string("ESO DPR CATG") == "CALIB")
    }

    @Test("Every truncation of a .gz is refused as truncated")
    func truncatedGzip() throws {
        let scratch = try Scratch()
        let path = try gzippedFrame(scratch)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        var refused = 0
        for length in stride(from: 10, to: whole.count, by: max(1, whole.count / 15)) {
            try whole.prefix(length).write(to: URL(fileURLWithPath: path))
            let error = failure(path)
            #expect(error?.kind == .truncated, "cut at \(length) of \(whole.count): \(error.map { "\($0.detail)" } ?? "accepted")")
            if error != nil { refused += 1 }
        }
        #expect(refused >= 14)
    }

    @Test("A .gz of two appended members, or with trailing bytes, is refused with the reason")
    func multiMember() throws {
        let scratch = try Scratch()
        let path = try gzippedFrame(scratch)
        let whole = try Data(contentsOf: URL(fileURLWithPath: path))
        try (whole + whole).write(to: URL(fileURLWithPath: path))
        let error = try #require(failure(path))
        #expect(error.kind == .damaged)
        #expect(error.detail.contains("second gzip member starts at byte \(whole.count.grouped)"))
        try (whole + Data("garbage".utf8)).write(to: URL(fileURLWithPath: path))
        #expect(failure(path)?.detail.contains("7 bytes of trailing garbage") == true)
    }

    @Test("Corrupt deflate data and a wrong CRC are refused as damaged")
    func corruptGzip() throws {
        let scratch = try Scratch()
        let path = try gzippedFrame(scratch)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 6] ^= 0xFF  // inside the CRC-32 of the trailer
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(failure(path))
        #expect(error.kind == .damaged)
        #expect(error.detail.contains("cannot uncompress"))
    }

    /// A FITS file of `side`² 32-bit zeros written without holding it (a sparse file), gzipped.
    func zeroBomb(_ scratch: Scratch, side: Int) throws -> String {
        let path = scratch.path("bomb.fits")
        var header = [UInt8]()
        for card in ["SIMPLE  =                    T", "BITPIX  =                   32", "NAXIS   =                    2",
                     "NAXIS1  = \(String(repeating: " ", count: 20 - "\(side)".count))\(side)",
                     "NAXIS2  = \(String(repeating: " ", count: 20 - "\(side)".count))\(side)", "END"] {
            header += Array(card.utf8) + [UInt8](repeating: 0x20, count: 80 - card.utf8.count)
        }
        header += [UInt8](repeating: 0x20, count: 2880 - header.count)
        try Data(header).write(to: URL(fileURLWithPath: path))
        let data = Int64(side * side * 4)
        #expect(truncate(path, off_t(2880 + (data + 2879) / 2880 * 2880)) == 0)
        try gzip(path)
        return path + ".gz"
    }

    @Test("A decompression bomb stops at the bound; a large stream is checked with bounded memory")
    func bomb() throws {
        let scratch = try Scratch()
        // 8192² 32-bit zeros: 256 MiB of FITS, about 260 kB gzipped.
        let path = try zeroBomb(scratch, side: 8192)
        let error = try #require(failure(path, maxDecompressedBytes: 8 << 20))
        #expect(error.kind == .tooLarge)
        #expect(error.detail.contains("more than 8,388,608 bytes"))
        // Under the default bound it is checked to the end without being held: peak RSS grows by
        // far less than the 256 MiB it decompresses to (cfitsio's open would hold all of it).
        var before = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &before)
        #expect(throws: Never.self) { try FITSIntegrity.check(path: path).get() }
        var after = rusage()
        getrusage(Int32(RUSAGE_SELF.rawValue), &after)
        let grownKiB = after.ru_maxrss - before.ru_maxrss
        print("peak RSS growth checking a 256 MiB gzip stream: \(grownKiB) KiB (limit 64 MiB)")
        #expect(grownKiB < 64 * 1024, "peak RSS grew by \(grownKiB) KiB checking a 256 MiB decompressed stream")
    }

    @Test("Overflowing and negative dimensions are refused before any arithmetic on them", arguments: [
        (["BITPIX  =                  -64", "NAXIS   =                    3", "NAXIS1  =           4294967296",
          "NAXIS2  =           4294967296", "NAXIS3  =           4294967296"], "overflows a 64-bit byte count"),
        (["BITPIX  =                   16", "NAXIS   =                    2", "NAXIS1  =                   -5",
          "NAXIS2  =                   10"], "NAXIS1 = -5 in HDU 1 is a negative axis length"),
        (["BITPIX  =                   16", "NAXIS   =                 1000"], "NAXIS = 1000 in HDU 1 is not between 0 and 999"),
        (["BITPIX  =                  1.5", "NAXIS   =                    0"], "BITPIX = 1.5 in HDU 1 is not an integer"),
    ])
    func dimensions(cards: [String], reason: String) throws {
        let scratch = try Scratch()
        let path = scratch.path("hostile.fits")
        var bytes = [UInt8]()
        for card in ["SIMPLE  =                    T"] + cards + ["END"] {
            bytes += Array(card.utf8) + [UInt8](repeating: 0x20, count: 80 - card.utf8.count)
        }
        bytes += [UInt8](repeating: 0x20, count: (2880 - bytes.count % 2880) % 2880) + [UInt8](repeating: 0, count: 2880)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(failure(path))
        #expect(error.detail.contains(reason), "\(error.detail)")
    }

    /// A 256² tile-compressed (Rice, one tile per row) frame of noisy counts; with DATASUM and
    /// CHECKSUM as fpack writes them when `checksums`.
    func compressedFrame(_ scratch: Scratch, checksums: Bool) throws -> String {
        let path = scratch.path("frame.fits.fz")
        var state: UInt32 = 7
        let pixels = (0..<256 * 256).map { _ -> UInt16 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt16(1000 + (state >> 22)) }
        let file = try FITSFile.create(path)
        try file.writeImage(pixels, width: 256, height: 256)
        if checksums { try file.writeChecksums() }
        try file.close()
        #expect(throws: Never.self) { try FITSIntegrity.check(path: path).get() }
        return path
    }

    @Test("A .fz whose compressed tiles were spoilt is refused by its DATASUM")
    func corruptTileWithChecksum() throws {
        let scratch = try Scratch()
        let path = try compressedFrame(scratch, checksums: true)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The heap of compressed tiles fills the end of the table's data unit: spoil a stretch in its middle.
        let start = bytes.count - 2880 - 40_000
        for i in start..<(start + 4000) { bytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(failure(path))
        #expect(error.kind == .damaged, "\(error)")
        #expect(error.detail.contains("DATASUM"), "\(error.detail)")
    }

    @Test("A .fz without checksums whose tile index is spoilt is refused: every tile is decompressed")
    func corruptTileIndex() throws {
        let scratch = try Scratch()
        let path = try compressedFrame(scratch, checksums: false)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        // The table rows (tile descriptors: length and heap offset) open the second HDU's data unit.
        let dataStart = 2880 * 2
        for i in (dataStart + 8 * 100)..<(dataStart + 8 * 110) { bytes[i] = 0x7F }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = try #require(failure(path))
        #expect(error.kind == .damaged, "\(error)")
        #expect(error.detail.contains("does not decompress"), "\(error.detail)")
    }

    @Test("File names cfitsio would parse as extended syntax open as the files they name", arguments: [
        "a[1].fits", "b[compress].fits", "+c.fits", "!d.fits", "e.fits[SCI]", "f(g).fits", "h i.fits", "new\nline.fits",
    ])
    func extendedSyntaxNames(name: String) throws {
        let scratch = try Scratch()
        let path = scratch.path(name)
        let file = try FITSFile.create(scratch.path("plain.fits"))
        try file.writeImage([Int16](repeating: 3, count: 16), width: 4, height: 4)
        try file.close()
        try FileManager.default.moveItem(atPath: scratch.path("plain.fits"), toPath: path)
        #expect(try FITSIntegrity.check(path: path).get().hduShapes == [[4, 4]])
        #expect(try FITSFile.open(path).readImage(as: Int16.self) == [Int16](repeating: 3, count: 16))
        #expect(FileManager.default.fileExists(atPath: path), "the file was overwritten or removed")
    }
}
