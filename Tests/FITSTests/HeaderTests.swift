import Foundation
import Testing
@testable import FITS

@Suite struct HeaderTests {
    private let longText = String((0..<300).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
        .replacingOccurrences(of: "k", with: "'")

    private func writtenAndRead(_ header: FITSHeader) throws -> FITSHeader {
        let scratch = try Scratch()
        let path = scratch.path("header.fits")
        try writeSingleImage([Float](repeating: 0, count: 4), width: 2, height: 2, to: path, header: header)
        return try FITSFile.open(path).readHeader()
    }

    @Test func esoHierarchLongStringsAndCommentary() throws {
        var header = FITSHeader()
        header.set("HIERARCH ESO DPR CATG", .string("CALIB"), comment: "observation category")
        header.set("ESO DET READ SPEED", .string("100kHz,2x2,high"))
        header.set("ESO TPL NEXP", .integer(5))
        header.set("ESO DET OUT1 GAIN", .real(1.37))
        header.set("ESO PRO REC1 PARAM1 VALUE", .string(longText), comment: "recipe parameter")
        header.set("LONGPAR", .string(longText))
        header.set("exptime", .real(0.1))
        header.set("BIASSUB", .logical(true))
        header.set("EMPTY", .undefined, comment: "no value")
        header.set("BIGINT", .integer(Int64.max))
        header.set("QUOTED", .string("it's  "))
        header.addComment("reduced by calibd")
        header.addHistory("bias subtracted")

        let read = try writtenAndRead(header)
        #expect(read["ESO DPR CATG"] == .string("CALIB"))
        #expect(read["HIERARCH ESO DPR CATG"] == .string("CALIB"))
        #expect(read["hierarch eso dpr catg"] == .string("CALIB"))
        #expect(read.card("ESO DPR CATG")?.comment == "observation category")
        #expect(read.string("ESO DET READ SPEED") == "100kHz,2x2,high")
        #expect(read.int("ESO TPL NEXP") == 5)
        #expect(read["ESO TPL NEXP"] == .integer(5))
        #expect(read.double("ESO DET OUT1 GAIN") == 1.37)
        #expect(read["ESO PRO REC1 PARAM1 VALUE"] == .string(longText))
        #expect(read.card("ESO PRO REC1 PARAM1 VALUE")?.comment == "recipe parameter")
        #expect(read["LONGPAR"] == .string(longText))
        #expect(read["EXPTIME"] == .real(0.1))
        #expect(read.bool("biassub") == true)
        #expect(read["EMPTY"] == .undefined)
        #expect(read.int("BIGINT") == Int64.max)
        #expect(read.string("QUOTED") == "it's", "trailing blanks are not significant in FITS strings")
        #expect(read["MISSING"] == nil)
        #expect(read.cards.contains(HeaderCard(key: "COMMENT", comment: "reduced by calibd")))
        #expect(read.cards.contains(HeaderCard(key: "HISTORY", comment: "bias subtracted")))
        #expect(read.cards.first?.key == "SIMPLE")
        #expect(read.int("NAXIS1") == 2)
        #expect(!read.cards.contains { $0.key == "CONTINUE" })
    }

    @Test func rewritingAReadHeaderDoesNotDuplicateCards() throws {
        var header = FITSHeader()
        header.set("ESO PRO LONG", .string(longText))
        header.set("OBJECT", .string("NGC 253"))
        let once = try writtenAndRead(header)
        let twice = try writtenAndRead(once)
        #expect(twice == once)
    }

    @Test func setReplacesFirstMatchAndKeepsComment() {
        var header = FITSHeader()
        header.set("ESO DET DIT", .real(1), comment: "integration time")
        header.set("hierarch eso det dit", .real(2))
        #expect(header.cards.count == 1)
        #expect(header.card("ESO DET DIT") == HeaderCard(key: "ESO DET DIT", value: .real(2), comment: "integration time"))
    }

    @Test func valueConversions() {
        #expect(HeaderValue.string(" 12.5 ").doubleValue == 12.5)
        #expect(HeaderValue.string("42").intValue == 42)
        #expect(HeaderValue.real(3).intValue == 3)
        #expect(HeaderValue.real(3.5).intValue == nil)
        #expect(HeaderValue.integer(7).stringValue == "7")
        #expect(HeaderValue.logical(false).stringValue == "F")
        #expect(HeaderValue.undefined.doubleValue == nil)
    }

    @Test func nonFiniteRealIsRejected() throws {
        var header = FITSHeader()
        header.set("BAD", .real(.nan))
        let error = #expect(throws: FITSError.self) { try writtenAndRead(header) }
        #expect(error?.kind == .invalidArgument)
    }
}
