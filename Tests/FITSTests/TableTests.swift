import Testing
@testable import FITS

@Suite struct TableTests {
    @Test func everyColumnKindRoundTrips() throws {
        let scratch = try Scratch()
        let path = scratch.path("table.fits")
        let table = FITSTable(columns: [
            .double(name: "WAVELENGTH", values: [4_000.5, 5_000.25, .nan], unit: "Angstrom"),
            .int64(name: "ORDER", values: [Int64.min + 1, 0, Int64.max]),
            .string(name: "LAMP", values: ["ThAr", "it's", ""]),
            .doubleVector(name: "COEFFS", values: [
                [1, 2, 3, 4, 5, 6], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], [-1, -2, -3, -4, -5, 1e-300],
            ], unit: "pix"),
            .bool(name: "GOOD", values: [true, false, true]),
        ])
        var header = FITSHeader()
        header.set("ESO PRO CATG", .string("WAVE_SOLUTION"))
        let file = try FITSFile.create(path)
        try file.writeEmptyPrimary(header: FITSHeader())
        try file.writeTable(table, extensionName: "WAVE", header: header)
        try file.close()

        let reopened = try FITSFile.open(path)
        #expect(try reopened.moveTo(hdu: 2) == .binaryTable)
        #expect(try reopened.imageShape() == [8 + 8 + 4 + 48 + 1, 3])
        let read = try reopened.readTable()
        #expect(read.rowCount == 3)
        #expect(read.columns.map(\.name) == ["WAVELENGTH", "ORDER", "LAMP", "COEFFS", "GOOD"])
        #expect(read.columns.map(\.unit) == ["Angstrom", "", "", "pix", ""])
        let wavelengths = try #require(read.doubles("wavelength"))
        #expect(wavelengths[0..<2] == [4_000.5, 5_000.25])
        #expect(wavelengths[2].isNaN)
        #expect(read.ints("ORDER") == [Int64.min + 1, 0, Int64.max])
        #expect(read.strings("LAMP") == ["ThAr", "it's", ""])
        #expect(read.doubleVectors("COEFFS") == table.doubleVectors("COEFFS"))
        #expect(read.bools("GOOD") == [true, false, true])
        #expect(try reopened.readHeader().string("HIERARCH ESO PRO CATG") == "WAVE_SOLUTION")
        #expect(try reopened.readHeader().string("EXTNAME") == "WAVE")
    }

    @Test func emptyTable() throws {
        let scratch = try Scratch()
        let path = scratch.path("empty.fits")
        let table = FITSTable(columns: [.double(name: "A", values: []), .string(name: "B", values: [])])
        let file = try FITSFile.create(path)
        try file.writeEmptyPrimary(header: FITSHeader())
        try file.writeTable(table, extensionName: "NONE")
        try file.close()
        let reopened = try FITSFile.open(path)
        try reopened.moveTo(extensionName: "NONE")
        #expect(try reopened.readTable() == table)
    }

    @Test func rejectsRaggedColumns() throws {
        let scratch = try Scratch()
        let file = try FITSFile.create(scratch.path("ragged.fits"))
        try file.writeEmptyPrimary(header: FITSHeader())
        let uneven = FITSTable(columns: [.double(name: "A", values: [1]), .int64(name: "B", values: [1, 2])])
        #expect(throws: FITSError.self) { try file.writeTable(uneven, extensionName: "T") }
        let ragged = FITSTable(columns: [.doubleVector(name: "V", values: [[1, 2], [3]])])
        #expect(throws: FITSError.self) { try file.writeTable(ragged, extensionName: "T") }
    }

    @Test func readTableOnImageIsAnError() throws {
        let scratch = try Scratch()
        let path = scratch.path("image.fits")
        try writeSingleImage([Int16](repeating: 1, count: 4), width: 2, height: 2, to: path)
        let error = #expect(throws: FITSError.self) { try FITSFile.open(path).readTable() }
        #expect(error?.kind == .invalidArgument)
    }
}
