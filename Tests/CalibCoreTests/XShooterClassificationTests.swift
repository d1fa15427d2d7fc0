import CalibCore
import FITS
import Foundation
import Testing

/// The X-shooter and SOXS profiles against a real X-shooter header and synthetic headers of every frame type of every arm.
@Suite("X-shooter and SOXS classification")
struct XShooterClassificationTests {
    static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/xshooter/xshooter_nir_dark_header.txt").path

    /// Renders the fixture's 80-column cards, unchanged, into a FITS file with its declared data (zeros), and reads it back through cfitsio.
    static func renderRealHeader() throws -> FITSHeader {
        let text = try String(contentsOfFile: fixture, encoding: .ascii)
        let cards = text.split(separator: "\n", omittingEmptySubsequences: false).dropFirst(2)
            .filter { $0.count == 80 && !$0.hasPrefix("END ") && !$0.allSatisfy { $0 == " " } }
        var bytes = Array((cards.joined() + "END".padding(toLength: 80, withPad: " ", startingAt: 0)).utf8)
        bytes += [UInt8](repeating: 0x20, count: (2880 - bytes.count % 2880) % 2880)
        let dataBytes = 2048 * 1100   // BITPIX 8, NAXIS1 2048, NAXIS2 1100, as the header declares
        bytes += [UInt8](repeating: 0, count: dataBytes + (2880 - dataBytes % 2880) % 2880)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("xsh-nir-dark-\(UUID().uuidString).fits").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        return try file.readHeader()
    }

    static func profile(_ name: String) throws -> InstrumentProfile {
        try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/\(name).yaml")
    }

    @Test("A real X-shooter NIR dark (414 ESO keywords) is XSHOOTER's, a DARK without lamp, of setup NIR/NonDest/Blind/NDIT 3, turned 90°")
    func realNIRDark() throws {
        // Given the real header in a FITS file
        let header = try Self.renderRealHeader()
        #expect(header.cards.filter { $0.key.hasPrefix("ESO ") || $0.key.hasPrefix("HIERARCH ESO ") }.count == 414)
        let profile = try Self.profile("xshooter")
        // Then it is identified, classified and set up from its own keywords
        #expect(profile.identifies(header))
        #expect(profile.classify(header) == Classification(type: .dark, lamp: nil, problem: nil))
        #expect(profile.setup(of: header).canonical == "arm=NIR binx=1 biny=1 ndit=3 readSpeed=NonDest slit=Blind")
        #expect(profile.missingSetupKeywords(in: header).isEmpty)
        #expect(profile.orientation(of: header) == .rotate90)
        // And the SOXS profile does not claim it
        #expect(try !Self.profile("soxs").identifies(header))
    }

    /// A synthetic raw X-shooter header of one arm: every slit wheel filled with a different slit, as real headers are.
    static func xshooterHeader(arm: String, catg: String = "CALIB", type: String, tech: String) -> FITSHeader {
        var pairs: [(String, HeaderValue)] = [
            ("INSTRUME", .string("SHOOT")), ("ESO SEQ ARM", .string(arm)), ("ESO DPR CATG", .string(catg)),
            ("ESO DPR TYPE", .string(type)), ("ESO DPR TECH", .string(tech)),
            ("ESO INS OPTI3 NAME", .string("1.0x11")), ("ESO INS OPTI4 NAME", .string("0.9x11")), ("ESO INS OPTI5 NAME", .string("0.6x11")),
        ]
        if arm == "NIR" {
            pairs += [("ESO DET NDIT", .integer(2)), ("ESO DET NCORRS NAME", .string("Double"))]
        } else {
            pairs += [("ESO DET WIN1 BINX", .integer(1)), ("ESO DET WIN1 BINY", .integer(2)), ("ESO DET READ SPEED", .string("100k/1pt/hg")),
                      ("ESO DET OUT1 PRSCX", .integer(arm == "UVB" ? 48 : 10)), ("ESO DET OUT1 OVSCX", .integer(arm == "UVB" ? 48 : 48)),
                      ("ESO DET OUT1 CONAD", .real(1.61))]
        }
        return FITSHeader(pairs.map { HeaderCard(key: $0.0, value: $0.1, comment: "") })
    }

    @Test("Every frame type of every X-shooter arm is classified with its lamp; each arm reads its own slit wheel and binning")
    func everyXShooterFrame() throws {
        let profile = try Self.profile("xshooter")
        // Given the DPR triplets X-shooter writes, per arm
        let common: [(type: String, tech: String, expected: FrameType, lamp: String?)] = [
            ("DARK", "IMAGE", .dark, nil),
            ("LAMP,FMTCHK", "ECHELLE,PINHOLE", .arcPinhole, "ARC"),
            ("LAMP,WAVE", "ECHELLE,MULTI-PINHOLE", .arcMultiPinhole, "ARC"),
            ("LAMP,WAVE", "ECHELLE,SLIT", .arcSlit, "ARC"),
        ]
        let ccd: [(type: String, tech: String, expected: FrameType, lamp: String?)] = [("BIAS", "IMAGE", .bias, nil)]
        let perArm: [String: [(type: String, tech: String, expected: FrameType, lamp: String?)]] = [
            "UVB": ccd + [("LAMP,DFLAT", "ECHELLE,SLIT", .flat, "D2"), ("LAMP,QFLAT", "ECHELLE,SLIT", .flat, "QTH"),
                          ("LAMP,DORDERDEF", "ECHELLE,PINHOLE", .orderDefinition, "D2"), ("LAMP,QORDERDEF", "ECHELLE,PINHOLE", .orderDefinition, "QTH")],
            "VIS": ccd + [("LAMP,FLAT", "ECHELLE,SLIT", .flat, "QTH"), ("LAMP,ORDERDEF", "ECHELLE,PINHOLE", .orderDefinition, "QTH")],
            "NIR": [("LAMP,FLAT", "ECHELLE,SLIT", .flat, "QTH"), ("LAMP,ORDERDEF", "ECHELLE,PINHOLE", .orderDefinition, "QTH"),
                    ("DARK", "ECHELLE,SLIT", .dark, "OFF"), ("DARK", "ECHELLE,PINHOLE", .dark, "OFF")],
        ]
        for (arm, frames) in perArm {
            for frame in common + frames {
                // Then each is its type and lamp, without a problem
                let header = Self.xshooterHeader(arm: arm, type: frame.type, tech: frame.tech)
                #expect(profile.identifies(header))
                #expect(profile.classify(header) == Classification(type: frame.expected, lamp: frame.lamp, problem: nil),
                        "\(arm) \(frame.type) \(frame.tech)")
                #expect(profile.missingSetupKeywords(in: header).isEmpty)
            }
            let science = Self.xshooterHeader(arm: arm, catg: "SCIENCE", type: "OBJECT", tech: "ECHELLE,SLIT,NODDING")
            #expect(profile.classify(science).type == .science)
        }
        // And the slit is the arm's own wheel; binning 1x2 reads as binx 1, biny 2; the NIR defaults to 1x1 and reads NDIT
        let slits = ["UVB": "1.0x11", "VIS": "0.9x11", "NIR": "0.6x11"]
        for (arm, slit) in slits {
            let setup = profile.setup(of: Self.xshooterHeader(arm: arm, type: "LAMP,FLAT", tech: "ECHELLE,SLIT"))
            #expect(setup["slit"] == slit)
            #expect(setup["binx"] == "1" && setup["biny"] == (arm == "NIR" ? "1" : "2"))
            #expect(setup["ndit"] == (arm == "NIR" ? "2" : "1"))
        }
        // And a frame of an arm the profile does not know misses its slit, with every slit keyword named
        var unknownArm = Self.xshooterHeader(arm: "AGC", type: "BIAS", tech: "IMAGE")
        unknownArm = FITSHeader(unknownArm.cards.filter { !$0.key.hasPrefix("ESO INS OPTI") })
        let missing = profile.missingSetupKeywords(in: unknownArm)
        #expect(missing.first { $0.name == "slit" }?.keywords == ["ESO INS OPTI5 NAME", "ESO INS OPTI3 NAME", "ESO INS OPTI4 NAME"])
        // And UVB frames are turned 180°, NIR 90°, VIS not
        #expect(profile.orientation(of: Self.xshooterHeader(arm: "UVB", type: "BIAS", tech: "IMAGE")) == .rotate180)
        #expect(profile.orientation(of: Self.xshooterHeader(arm: "VIS", type: "BIAS", tech: "IMAGE")) == .none)
        #expect(profile.orientation(of: Self.xshooterHeader(arm: "NIR", type: "DARK", tech: "IMAGE")) == .rotate90)
    }

    @Test("SOXS: D2 flats by the deuterium lamp's keyword, NIR lamp-off darks, each arm's slit; VIS science columns 50..<858, halved at binx 2; NIR transposed")
    func soxsFrames() throws {
        let profile = try Self.profile("soxs")
        func header(_ arm: String, _ type: String, _ tech: String, extra: [(String, HeaderValue)] = []) -> FITSHeader {
            FITSHeader(([("INSTRUME", .string("SOXS")), ("ESO SEQ ARM", .string(arm)), ("ESO DPR CATG", .string("CALIB")),
                         ("ESO DPR TYPE", .string(type)), ("ESO DPR TECH", .string(tech)), ("ESO DET READ CURID", .integer(1)),
                         ("ESO DET READ CURNAME", .string("UpTheRamp")), ("ESO INS VISE NAME", .string("SLIT1.0")),
                         ("ESO INS NISE NAME", .string("SLIT1.5"))] + extra).map { HeaderCard(key: $0.0, value: $0.1, comment: "") })
        }
        #expect(profile.classify(header("VIS", "LAMP,FLAT", "ECHELLE,SLIT", extra: [("ESO INS DEUT NAME", .string("D2"))]))
                == Classification(type: .flat, lamp: "D2", problem: nil))
        #expect(profile.classify(header("VIS", "LAMP,FLAT", "ECHELLE,SLIT", extra: [("ESO INS QTH NAME", .string("QTH"))]))
                == Classification(type: .flat, lamp: "QTH", problem: nil))
        #expect(profile.classify(header("VIS", "LAMP,FLAT", "ECHELLE,PINHOLE")).type == .orderDefinition)
        #expect(profile.classify(header("VIS", "LAMP,WAVE", "ECHELLE,PINHOLE")).type == .arcPinhole)
        #expect(profile.classify(header("VIS", "LAMP,WAVE", "ECHELLE,MULTI-PINHOLE")).type == .arcMultiPinhole)
        #expect(profile.classify(header("VIS", "BIAS", "IMAGE")).type == .bias)
        #expect(profile.classify(header("NIR", "DARK", "ECHELLE,SLIT")) == Classification(type: .dark, lamp: "OFF", problem: nil))
        #expect(profile.classify(header("NIR", "DARK", "IMAGE")) == Classification(type: .dark, lamp: nil, problem: nil))
        #expect(profile.setup(of: header("VIS", "BIAS", "IMAGE"))["slit"] == "SLIT1.0")
        #expect(profile.setup(of: header("NIR", "DARK", "IMAGE"))["slit"] == "SLIT1.5")
        #expect(profile.setup(of: header("NIR", "DARK", "IMAGE"))["readSpeed"] == "UpTheRamp")
        #expect(profile.scienceColumns(of: header("VIS", "BIAS", "IMAGE")) == 50..<858)
        #expect(profile.scienceColumns(of: header("VIS", "BIAS", "IMAGE", extra: [("ESO DET BINX", .integer(2))])) == 25..<429)
        // And NIR frames, read out with the dispersion along x, are transposed by configuration; VIS frames are read as they are
        #expect(profile.orientation(of: header("NIR", "DARK", "IMAGE")) == .transpose)
        #expect(profile.orientation(of: header("VIS", "BIAS", "IMAGE")) == FrameOrientation.none)
    }

    @Test("A setup key chosen by another must name a setup key read from the header")
    func selectorMustExist() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("sel-\(UUID().uuidString).yaml").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try """
        instrument: T
        identify: {key: INSTRUME, equals: T}
        night: {siteLongitudeDeg: 0}
        setup:
          arm: ESO SEQ ARM
          slit: {by: side, keys: {UVB: ESO INS OPTI3 NAME}}
        classification:
          - {type: BIAS, when: {key: X, equals: Y}}
        """.write(toFile: path, atomically: true, encoding: .utf8)
        #expect { try ConfigurationLoader.loadProfile(path: path) } throws: { error in
            (error as? ConfigurationError)?.key == "setup.slit.by"
        }
    }
}
