import Foundation
import Testing
@testable import FITS

@Suite struct CompressionTests {
    @Test func readsGzippedFile() throws {
        let scratch = try Scratch()
        let path = scratch.path("frame.fits")
        let pixels = (0..<64 * 48).map { UInt16(truncatingIfNeeded: $0 * 31) }
        var header = FITSHeader()
        header.set("ESO DPR CATG", .string("CALIB"))
        try writeSingleImage(pixels, width: 64, height: 48, to: path, header: header)
        try gzip(path)

        let file = try FITSFile.open(path + ".gz")
        #expect(try file.readHeader().string("ESO DPR CATG") == "CALIB")
        #expect(try file.readImage(as: UInt16.self) == pixels)
        let summary = try FITSIntegrity.check(path: path + ".gz").get()
        #expect(summary.hduShapes == [[64, 48]])
    }

    @Test func tileCompressedRoundTripIsLossless() throws {
        let scratch = try Scratch()
        let path = scratch.path("frame.fits.fz")
        let counts = (0..<200 * 150).map { UInt16(truncatingIfNeeded: 1_000 + ($0 * 7_919) % 5_000) }
        var noisy: [Float] = (0..<200 * 150).map { (index: Int) -> Float in Float(1_000 + (index * 7_919) % 5_000) / 7 }
        noisy[17] = .nan
        var header = FITSHeader()
        header.set("ESO DET OUT1 GAIN", .real(2.5))
        let file = try FITSFile.create(path)
        try file.writeImage(counts, width: 200, height: 150, header: header, extensionName: "RAW")
        try file.writeImage(noisy, width: 200, height: 150, extensionName: "FLAT")
        try file.close()

        let reopened = try FITSFile.open(path)
        #expect(try reopened.hduCount() == 3)
        #expect(try reopened.firstImageHDU() == 2)
        #expect(try reopened.readImage(as: UInt16.self) == counts)
        let header2 = try reopened.readHeader()
        #expect(header2.int("BITPIX") == 16)
        #expect(header2.int("NAXIS1") == 200)
        #expect(header2.double("ESO DET OUT1 GAIN") == 2.5)
        #expect(header2["ZIMAGE"] == nil)
        try reopened.moveTo(extensionName: "FLAT")
        #expect(bitwiseEqual(try reopened.readImage(as: Float.self), noisy))

        let compressedSize = try FileManager.default.attributesOfItem(atPath: path)[.size] as! Int
        #expect(compressedSize < 200 * 150 * 6)
        #expect(try FITSIntegrity.check(path: path).get().hduShapes == [[], [200, 150], [200, 150]])
    }
}
