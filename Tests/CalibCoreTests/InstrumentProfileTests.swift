import CalibCore
import FITS
import Testing

/// Classification of example headers by the three shipped profiles: the rules are general, not SIMECH's.
@Suite("Three instrument profiles classify their example headers")
struct InstrumentProfileTests {
    let configuration: CalibdConfiguration

    init() throws {
        configuration = try ConfigurationLoader.load(path: repositoryConfig + "/calibd.yaml")
    }

    func classify(_ pairs: [(String, HeaderValue)]) throws -> (String, Classification, Setup) {
        let header = makeHeader(pairs)
        let profile = try #require(configuration.profile(for: header), "no profile claims \(pairs)")
        return (profile.name, profile.classify(header), profile.setup(of: header))
    }

    func xshooter(_ type: String, _ tech: String, arm: String = "VIS", catg: String = "CALIB") -> [(String, HeaderValue)] {
        [("INSTRUME", .string("SHOOT")), ("ESO DPR CATG", .string(catg)), ("ESO DPR TYPE", .string(type)),
         ("ESO DPR TECH", .string(tech)), ("ESO SEQ ARM", .string(arm)), ("ESO DET WIN1 BINX", .integer(1)),
         ("ESO DET WIN1 BINY", .integer(2)), ("ESO DET READ SPEED", .string("400k/1pt/hg")),
         ("ESO INS OPTI4 NAME", .string("1.2x11"))]
    }

    @Test("X-shooter: DPR pairs give each frame type; UVB flats carry their lamp; the slit comes from OPTIn")
    func xshooterProfile() throws {
        let cases: [(String, String, FrameType, String?)] = [
            ("BIAS", "IMAGE", .bias, nil),
            ("DARK", "IMAGE", .dark, nil),
            ("LAMP,FLAT", "ECHELLE,SLIT", .flat, nil),
            ("LAMP,DFLAT", "ECHELLE,SLIT", .flat, "D2"),
            ("LAMP,QFLAT", "ECHELLE,SLIT", .flat, "QTH"),
            ("LAMP,ORDERDEF", "ECHELLE,PINHOLE", .orderDefinition, nil),
            ("LAMP,QORDERDEF", "ECHELLE,PINHOLE", .orderDefinition, nil),
            ("LAMP,FMTCHK", "ECHELLE,PINHOLE", .arcPinhole, nil),
            ("LAMP,WAVE", "ECHELLE,MULTI-PINHOLE", .arcMultiPinhole, nil),
            ("LAMP,WAVE", "ECHELLE,SLIT", .arcSlit, nil),
        ]
        for (type, tech, expected, lamp) in cases {
            let (instrument, c, _) = try classify(xshooter(type, tech))
            #expect(instrument == "XSHOOTER")
            #expect(c.type == expected, "\(type)/\(tech) → \(c.type)")
            if let lamp { #expect(c.lamp == lamp) }
        }
        let (_, science, setup) = try classify(xshooter("OBJECT", "ECHELLE,SLIT", catg: "SCIENCE"))
        #expect(science.type == .science)
        #expect(setup.canonical == "arm=VIS binx=1 biny=2 ndit=1 readSpeed=400k/1pt/hg slit=1.2x11")  // CCD frames: one integration
    }

    func spirou(_ obstype: String, _ cas: String, _ ref: String) -> [(String, HeaderValue)] {
        [("INSTRUME", .string("SPIRou")), ("OBSTYPE", .string(obstype)), ("SBCCAS_P", .string(cas)), ("SBCREF_P", .string(ref)),
         ("SBRHB1_P", .string("P16")), ("SBRHB2_P", .string("P16")), ("MJDATE", .real(61000.3)), ("EXPTIME", .real(5.57))]
    }

    @Test("SPIRou: OBSTYPE plus calibration-unit positions, as APERO classifies")
    func spirouProfile() throws {
        let cases: [(String, String, String, FrameType, String?)] = [
            ("DARK", "pos_pk", "pos_pk", .dark, nil),
            ("FLAT", "pos_wl", "pos_wl", .flat, "WL"),
            ("COMPARISON", "pos_hc1", "pos_hc1", .arcSlit, "UNe"),
            ("ALIGN", "pos_fp", "pos_fp", .arcSlit, "FP"),
            ("OBJECT", "pos_pk", "pos_fp", .science, nil),
            ("FLAT", "pos_wl", "pos_pk", .unknown, nil),  // FLAT_DARK is not a flat-field for the flat recipe
        ]
        for (obstype, cas, ref, expected, lamp) in cases {
            let (instrument, c, setup) = try classify(spirou(obstype, cas, ref))
            #expect(instrument == "SPIROU")
            #expect(c.type == expected, "\(obstype) \(cas)/\(ref) → \(c.type)")
            if let lamp { #expect(c.lamp == lamp) }
            #expect(setup.canonical == "rhomb1=P16 rhomb2=P16")
        }
        // Mauna Kea: 03:00 UTC on the 22nd is 17:00 on the 21st local, the night of the 21st.
        let profile = try #require(configuration.profiles.first { $0.name == "SPIROU" })
        #expect(profile.night.night(forMJD: ObservingNight("2026-11-22")!.startDateMJD + 3.0 / 24).description == "2026-11-21")
    }

    @Test("A SPIRou header without the calibration-unit keywords is UNKNOWN and says which keywords")
    func spirouMissing() throws {
        let (_, c, _) = try classify([("INSTRUME", .string("SPIRou")), ("OBSTYPE", .string("FLAT"))])
        #expect(c.type == .unknown)
        #expect(c.problem?.contains("SBCCAS_P") == true)
    }

    @Test("No profile claims a header of another instrument")
    func unclaimed() {
        #expect(configuration.profile(for: makeHeader([("INSTRUME", .string("HARPS"))])) == nil)
    }
}
