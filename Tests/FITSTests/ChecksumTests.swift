import Foundation
import Testing
@testable import FITS

@Suite struct ChecksumTests {
    @Test func checksumsVerifyAndDetectCorruption() throws {
        let scratch = try Scratch()
        let path = scratch.path("sums.fits")
        let file = try FITSFile.create(path)
        try file.writeImage((0..<100).map { Float($0) }, width: 10, height: 10)
        try file.writeTable(FITSTable(columns: [.int64(name: "N", values: [1, 2, 3])]), extensionName: "T")
        try file.writeImage((0..<100).map { Int16($0) }, width: 10, height: 10, extensionName: "LAST")
        try file.writeChecksums()
        try file.close()

        #expect(try FITSFile.open(path).verifyChecksums() == [1: true, 2: true, 3: true])
        let header = try FITSFile.open(path).readHeader()
        #expect(header.string("CHECKSUM") != nil && header.string("DATASUM") != nil)

        // The last HDU's 200 data bytes sit in the file's final 2,880-byte block.
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count - 2_880 + 11] ^= 0x01
        try data.write(to: URL(fileURLWithPath: path))
        #expect(try FITSFile.open(path).verifyChecksums() == [1: true, 2: true, 3: false])
    }

    @Test func filesWithoutChecksumsReportNothing() throws {
        let scratch = try Scratch()
        let path = scratch.path("plain.fits")
        try writeSingleImage([UInt8](repeating: 7, count: 4), width: 2, height: 2, to: path)
        #expect(try FITSFile.open(path).verifyChecksums().isEmpty)
    }
}
