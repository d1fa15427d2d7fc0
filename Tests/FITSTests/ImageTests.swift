import Foundation
import Testing
@testable import FITS

@Suite struct ImageTests {
    let width = 37
    let height = 23

    private func roundTrip<P: FITSPixel & Equatable>(_ pixels: [P], expectedBitpix: ImageBitpix) throws -> [P] {
        let scratch = try Scratch()
        let path = scratch.path("image.fits")
        try writeSingleImage(pixels, width: width, height: height, to: path)
        let file = try FITSFile.open(path)
        #expect(try file.imageShape() == [width, height])
        #expect(try file.imageBitpix() == expectedBitpix)
        return try file.readImage(as: P.self)
    }

    @Test func uint16UsesBzero() throws {
        let pixels = (0..<width * height).map { UInt16(truncatingIfNeeded: $0 * 977) }
        #expect(pixels.max()! > 32_767, "values above Int16.max exercise BZERO")
        #expect(try roundTrip(pixels, expectedBitpix: .int16) == pixels)

        let scratch = try Scratch()
        let path = scratch.path("u16.fits")
        try writeSingleImage(pixels, width: width, height: height, to: path)
        let header = try FITSFile.open(path).readHeader()
        #expect(header.int("BITPIX") == 16)
        #expect(header.double("BZERO") == 32_768)
    }

    @Test func int16() throws {
        let pixels = (0..<width * height).map { Int16(truncatingIfNeeded: $0 * 1_999 - 30_000) }
        #expect(try roundTrip(pixels, expectedBitpix: .int16) == pixels)
    }

    @Test func int32() throws {
        let pixels = (0..<width * height).map { Int32(truncatingIfNeeded: $0 &* 2_654_435_761) }
        #expect(try roundTrip(pixels, expectedBitpix: .int32) == pixels)
    }

    @Test func float32KeepsNaN() throws {
        var pixels = (0..<width * height).map { Float($0) * 0.1 - 17.3 }
        pixels[5] = .nan
        pixels[100] = -.infinity
        let read = try roundTrip(pixels, expectedBitpix: .float32)
        #expect(read[5].isNaN)
        #expect(read[100].isNaN, "cfitsio treats IEEE infinities as undefined pixels")
        pixels[100] = .nan
        #expect(bitwiseEqual(read, pixels))
    }

    @Test func float64KeepsNaN() throws {
        var pixels = (0..<width * height).map { Double($0) / 7 + 1e-300 }
        pixels[0] = .nan
        let read = try roundTrip(pixels, expectedBitpix: .float64)
        #expect(read[0].isNaN)
        #expect(bitwiseEqual(read, pixels))
    }

    @Test func uint8() throws {
        let pixels = (0..<width * height).map { UInt8(truncatingIfNeeded: $0) }
        #expect(try roundTrip(pixels, expectedBitpix: .uint8) == pixels)
    }

    @Test func readRowsMatchesWholeImage() throws {
        let scratch = try Scratch()
        let path = scratch.path("rows.fits")
        let pixels = (0..<width * height).map { Float($0) }
        try writeSingleImage(pixels, width: width, height: height, to: path)
        let file = try FITSFile.open(path)
        let whole = try file.readImage(as: Float.self)
        var strip = [Float](repeating: -1, count: 5 * width + 3)
        for start in stride(from: 0, to: height, by: 5) {
            let rows = start..<min(start + 5, height)
            try strip.withUnsafeMutableBufferPointer { try file.readRows(rows, into: $0) }
            #expect(Array(strip[0..<rows.count * width]) == Array(whole[rows.lowerBound * width..<rows.upperBound * width]))
        }
        #expect(strip.last == -1, "pixels past the requested rows are untouched")
        #expect(throws: FITSError.self) {
            try strip.withUnsafeMutableBufferPointer { try file.readRows(20..<24, into: $0) }
        }
    }

    @Test("A rectangle of columns × rows reads exactly those pixels of the whole image, row after row, for Float and UInt16 pixels")
    func readRectangleMatchesWholeImage() throws {
        // Given a Float and a UInt16 image whose pixels are all different
        let scratch = try Scratch()
        let floats = (0..<width * height).map { Float($0) * 0.5 - 3 }
        let integers = (0..<width * height).map { UInt16(truncatingIfNeeded: $0 * 977) }
        try writeSingleImage(floats, width: width, height: height, to: scratch.path("f.fits"))
        try writeSingleImage(integers, width: width, height: height, to: scratch.path("u.fits"))
        let floatFile = try FITSFile.open(scratch.path("f.fits"))
        let integerFile = try FITSFile.open(scratch.path("u.fits"))
        for (columns, rows) in [(0..<width, 0..<height), (3..<4, 0..<height), (10..<17, 5..<23), (36..<37, 22..<23)] {
            // When a rectangle is read into a buffer one pixel larger than it
            var f = [Float](repeating: -1, count: columns.count * rows.count + 1)
            var u = [UInt16](repeating: 1, count: columns.count * rows.count + 1)
            try f.withUnsafeMutableBufferPointer { try floatFile.readRectangle(columns: columns, rows: rows, into: $0) }
            try u.withUnsafeMutableBufferPointer { try integerFile.readRectangle(columns: columns, rows: rows, into: $0) }
            // Then each pixel is the whole image's at the same place, and the buffer's tail is untouched
            let expectedF = rows.flatMap { y in columns.map { floats[y * width + $0] } }
            let expectedU = rows.flatMap { y in columns.map { integers[y * width + $0] } }
            #expect(Array(f.dropLast()) == expectedF, "\(columns) × \(rows)")
            #expect(Array(u.dropLast()) == expectedU, "\(columns) × \(rows)")
            #expect(f.last == -1 && u.last == 1)
        }
        // And a rectangle beyond the image is refused
        var buffer = [Float](repeating: 0, count: 100)
        #expect(throws: FITSError.self) {
            try buffer.withUnsafeMutableBufferPointer { try floatFile.readRectangle(columns: 30..<38, rows: 0..<2, into: $0) }
        }
    }

    @Test func rejectsPixelCountMismatch() throws {
        let scratch = try Scratch()
        let file = try FITSFile.create(scratch.path("bad.fits"))
        let error = #expect(throws: FITSError.self) {
            try file.writeImage([Float](repeating: 0, count: 10), width: 3, height: 3)
        }
        #expect(error?.kind == .invalidArgument)
    }

    @Test func multiExtensionFile() throws {
        let scratch = try Scratch()
        let path = scratch.path("mef.fits")
        let file = try FITSFile.create(path)
        var primary = FITSHeader()
        primary.set("OBJECT", .string("bias master"))
        try file.writeEmptyPrimary(header: primary)
        for (index, name) in ["SCI", "ERR", "DQ"].enumerated() {
            try file.writeImage([Float](repeating: Float(index), count: 12), width: 4, height: 3, extensionName: name)
        }
        try file.writeTable(FITSTable(columns: [.double(name: "X", values: [1, 2])]), extensionName: "STATS")
        try file.close()

        let reopened = try FITSFile.open(path)
        #expect(try reopened.hduCount() == 5)
        #expect(try reopened.readHeader().string("OBJECT") == "bias master")
        #expect(try reopened.imageShape() == [])
        #expect(try reopened.moveTo(extensionName: "ERR") == .image)
        #expect(try reopened.currentHDU() == 3)
        #expect(try reopened.readImage(as: Float.self) == [Float](repeating: 1, count: 12))
        #expect(try reopened.readHeader().string("EXTNAME") == "ERR")
        #expect(try reopened.moveTo(extensionName: "STATS") == .binaryTable)
        #expect(try reopened.readTable().doubles("X") == [1, 2])
        #expect(try reopened.firstImageHDU() == 2)
        let missing = #expect(throws: FITSError.self) { try reopened.moveTo(extensionName: "NOPE") }
        #expect(missing?.description.contains("no HDU has EXTNAME 'NOPE'") == true)
    }
}
