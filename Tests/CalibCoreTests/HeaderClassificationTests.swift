import CalibCore
import FITS
import Foundation
import Testing

/// Builds a header from key/value pairs, as cfitsio would hand it over.
func makeHeader(_ pairs: [(String, HeaderValue)]) -> FITSHeader {
    FITSHeader(pairs.map { HeaderCard(key: $0.0, value: $0.1, comment: "") })
}

/// The repository's config directory, found from this source file.
let repositoryConfig = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("config").path

@Suite("Header conditions and classification")
struct HeaderClassificationTests {
    @Test("Each kind of test matches, mismatches, and reports missing keywords")
    func leafTests() {
        let h = makeHeader([("ESO DPR TYPE", .string("LAMP,FLAT")), ("EXPTIME", .real(12.5)), ("NAXIS", .integer(2)),
                            ("ESO INS LAMP1 NAME", .string("QTH_1 ")), ("SBCCAS_P", .string("pos_wl"))])
        #expect(HeaderCondition.test(key: "ESO DPR TYPE", .equals("LAMP,FLAT")).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "HIERARCH ESO DPR TYPE", .equals("LAMP,FLAT")).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "ESO DPR TYPE", .equals("BIAS")).evaluate(h) == .noMatch)
        #expect(HeaderCondition.test(key: "EXPTIME", .equals("12.50")).evaluate(h) == .match)  // numeric comparison
        #expect(HeaderCondition.test(key: "NAXIS", .oneOf(["1", "2"])).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "ESO INS LAMP1 NAME", .glob("QTH*")).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "ESO INS LAMP1 NAME", .regex("^QTH_[0-9]$")).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "EXPTIME", .range(lower: 10, upper: 20)).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "EXPTIME", .range(lower: nil, upper: 10)).evaluate(h) == .noMatch)
        #expect(HeaderCondition.test(key: "SBCCAS_P", .present(true)).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "OBSTYPE", .present(false)).evaluate(h) == .match)
        #expect(HeaderCondition.test(key: "OBSTYPE", .equals("FLAT")).evaluate(h) == .missing(["OBSTYPE"]))
    }

    @Test("all/any/not combine outcomes; a mismatch outranks a missing keyword in 'all'")
    func combinators() {
        let h = makeHeader([("A", .string("1"))])
        let a1 = HeaderCondition.test(key: "A", .equals("1"))
        let a2 = HeaderCondition.test(key: "A", .equals("2"))
        let missing = HeaderCondition.test(key: "B", .equals("x"))
        #expect(HeaderCondition.all([a1, missing]).evaluate(h) == .missing(["B"]))
        #expect(HeaderCondition.all([a2, missing]).evaluate(h) == .noMatch)
        #expect(HeaderCondition.any([a2, missing]).evaluate(h) == .missing(["B"]))
        #expect(HeaderCondition.any([a1, missing]).evaluate(h) == .match)
        #expect(HeaderCondition.not(a2).evaluate(h) == .match)
        #expect(HeaderCondition.not(missing).evaluate(h) == .missing(["B"]))
    }

    @Test("The shipped SIMECH profile classifies its frame types, first match wins")
    func simechProfile() throws {
        let profile = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/simech.yaml")
        func classify(_ type: String, tech: String = "IMAGE", catg: String = "CALIB") -> Classification {
            profile.classify(makeHeader([
                ("INSTRUME", .string("SIMECH")), ("ESO DPR CATG", .string(catg)), ("ESO DPR TYPE", .string(type)),
                ("ESO DPR TECH", .string(tech)), ("ESO INS LAMP1 NAME", .string("QTH")),
            ]))
        }
        #expect(classify("BIAS").type == .bias)
        #expect(classify("DARK").type == .dark)
        #expect(classify("LAMP,FLAT", tech: "ECHELLE,SLIT") == Classification(type: .flat, lamp: "QTH", problem: nil))
        #expect(classify("LAMP,ORDERDEF", tech: "ECHELLE,PINHOLE").type == .orderDefinition)
        #expect(classify("LAMP,FMTCHK", tech: "ECHELLE,PINHOLE").type == .arcPinhole)
        #expect(classify("LAMP,WAVE", tech: "ECHELLE,MULTI-PINHOLE").type == .arcMultiPinhole)
        #expect(classify("OBJECT", tech: "ECHELLE,SLIT", catg: "SCIENCE").type == .science)
        #expect(classify("LAMP,FLAT", tech: "IMAGE").type == .unknown)
        #expect(classify("LAMP,FLAT", tech: "IMAGE").problem == nil)
    }

    @Test("A header lacking a keyword the rules need is UNKNOWN with the keyword named")
    func missingKeyword() throws {
        let profile = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/simech.yaml")
        let result = profile.classify(makeHeader([("INSTRUME", .string("SIMECH")), ("ESO DPR TYPE", .string("BIAS"))]))
        #expect(result.type == .unknown)
        #expect(result.problem?.contains("ESO DPR CATG") == true)
    }

    @Test("Setups read through the profile's keys; a missing key reads UNDEFINED")
    func setup() throws {
        let profile = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/simech.yaml")
        let setup = profile.setup(of: makeHeader([("ESO SEQ ARM", .string("RED")), ("ESO DET BINX", .integer(2)),
                                                  ("ESO DET BINY", .integer(2))]))
        #expect(setup.canonical == "arm=RED binx=2 biny=2 readSpeed=UNDEFINED")
        #expect(try Setup(parsing: setup.canonical) == setup)
        #expect(setup.satisfies(try Setup(parsing: "arm=RED")))
        #expect(!setup.satisfies(try Setup(parsing: "arm=BLUE")))
    }
}
