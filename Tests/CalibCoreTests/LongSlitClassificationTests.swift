import CalibCore
import FITS
import Foundation
import Testing

/// The long-slit profiles against real raw headers (Tests/Fixtures/kast_blue): Kast writes its arc
/// as OBSTYPE = 'OBJECT', so only the lamp-status keywords and exposure times tell frames apart.
@Suite("Long-slit profile classification from real headers")
struct LongSlitClassificationTests {
    static let kastDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/kast_blue").path

    static func header(_ path: String) throws -> FITSHeader {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(hdu: try file.firstImageHDU())
        return try file.readHeader()
    }

    @Test("Real Kast blue headers: b1 (OBSTYPE OBJECT, He and Hg-Cd lamps on) is an ARC_SLIT, b3/b4 FLATs, b14–b16 BIASes; setup grism 600/4310, dichroic d55; turned so x runs along the slit")
    func kastBlue() throws {
        // Given the Kast profile
        let profile = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/kast.yaml")
        let expected: [String: FrameType] = ["b1": .arcSlit, "b3": .flat, "b4": .flat, "b14": .bias, "b15": .bias, "b16": .bias]
        for (name, type) in expected {
            // When a real header is classified
            let header = try Self.header(Self.kastDirectory + "/\(name).fits.gz")
            // Then it is Kast's, of the expected type, with its full setup
            #expect(profile.identifies(header), "\(name)")
            #expect(profile.classify(header).type == type, "\(name): \(profile.classify(header))")
            #expect(profile.classify(header).problem == nil)
            let setup = profile.setup(of: header)
            #expect(setup["arm"] == "kastb" && setup["grism"] == "600/4310" && setup["dichroic"] == "d55", "\(name): \(setup.canonical)")
            #expect(profile.missingSetupKeywords(in: header).isEmpty)
            #expect(profile.orientation(of: header) == .transpose)
        }
        // And the arc's 0.5" slit is recorded (blanks become underscores in setups), though the CRV model comes from the flats' 2.0" slit
        #expect(profile.setup(of: try Self.header(Self.kastDirectory + "/b1.fits.gz"))["slit"] == "0.5_arcsec")
        // And no other profile claims a Kast frame
        for other in ["simech", "xshooter", "soxs", "spirou"] {
            let p = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/\(other).yaml")
            #expect(!p.identifies(try Self.header(Self.kastDirectory + "/b1.fits.gz")), "\(other)")
        }
    }

    static let isisDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/isis_blue").path

    /// The primary header followed by the image extension's cards, as ingest reads a frame whose pixels are in HDU 1.
    static func mergedHeader(_ path: String) throws -> FITSHeader {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        var header = try file.readHeader()
        try file.moveTo(hdu: try file.firstImageHDU())
        let image = try file.readHeader()
        header.cards += image.cards.filter { header[$0.key] == nil }
        return header
    }

    @Test("Real ISIS blue headers (keywords in the primary HDU, pixels in HDU 1): arc, flats with lamp W, biases; setup R300B, 5300, 2×1")
    func isisBlue() throws {
        // Given the ISIS profile
        let profile = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/isis.yaml")
        let expected: [String: (FrameType, String?)] = ["r2324566": (.arcSlit, "CuNe+CuAr"), "r2324580": (.flat, "W"), "r2324582": (.flat, "W"),
                                                        "r2324594": (.bias, nil), "r2324596": (.bias, nil)]
        for (name, (type, lamp)) in expected {
            // When a real header is classified
            let header = try Self.mergedHeader(Self.isisDirectory + "/\(name).fit.gz")
            // Then it is ISIS's, of the expected type and lamp, with its full setup
            #expect(profile.identifies(header), "\(name)")
            #expect(profile.classify(header) == Classification(type: type, lamp: lamp, problem: nil), "\(name): \(profile.classify(header))")
            let setup = profile.setup(of: header)
            #expect(setup["grating"] == "R300B" && setup["dichroic"] == "5300" && setup["binx"] == "2" && setup["biny"] == "1",
                    "\(name): \(setup.canonical)")
            #expect(profile.missingSetupKeywords(in: header).isEmpty)
            #expect(profile.orientation(of: header) == .none)
        }
        // And the Kast profile does not claim an ISIS frame, nor ISIS a Kast one
        let kast = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/kast.yaml")
        #expect(!kast.identifies(try Self.mergedHeader(Self.isisDirectory + "/r2324566.fit.gz")))
        #expect(!profile.identifies(try Self.header(Self.kastDirectory + "/b1.fits.gz")))
    }
}
