import CalibCore
import Foundation
@testable import Pipeline
import Recipes
import Testing

/// The static files converted from SOXSPIPE's tables (config/static/XSHOOTER_*, SOXS_*)
/// against the converter re-run on the vendored tables (config/static/sources/).
@Suite("SOXSPIPE static calibrations")
struct SoxspipeStaticConversionTests {
    static let staticDirectory = TestWorkspace.repositoryConfig + "/static"
    static let manifest = staticDirectory + "/sources/soxspipe-conversions.json"

    @Test("Every shipped X-shooter and SOXS file is exactly what the converter makes of the vendored tables")
    func shippedFilesAreReproducible() throws {
        // Given the manifest and the vendored tables
        let converter = try SoxspipeStaticConverter(manifestPath: Self.manifest)
        // When converted again
        let result = try converter.convert()
        // Then every output matches the shipped file byte for byte (a pinhole map and a nominal model per arm and binning,
        // a spectral format per arm)
        let arms = Set(converter.manifest.conversions.map { "\($0.instrument)_\($0.arm)" }).count
        #expect(result.outputs.count == converter.manifest.conversions.count + converter.manifest.conversions.filter { $0.nominalDegrees != nil }.count + arms)
        for output in result.outputs {
            let shipped = try String(contentsOfFile: Self.staticDirectory + "/" + output.fileName, encoding: .utf8)
            #expect(shipped == output.text, "\(output.fileName) differs: run calibctl convert-static")
        }
    }

    @Test("The X-shooter UVB/VIS tables are on the air scale, the NIR and the lamp lists in vacuum")
    func wavelengthScales() throws {
        // Given the converted figures
        let summaries = try SoxspipeStaticConverter(manifestPath: Self.manifest).convert().summaries
        let byName = Dictionary(uniqueKeysWithValues: summaries.map { ($0.name, $0) })
        // Then on the table's scale ≥ 97 % of the UVB/VIS single-pinhole wavelengths are found within 0.005 nm, ≥ 88 % in the NIR
        for s in summaries {
            let least = s.name.contains("NIR") ? 0.88 : 0.97
            #expect(Double(s.matchedOnTableScale) >= least * Double(s.singleWavelengths), "\(s.name): \(s.matchedOnTableScale)/\(s.singleWavelengths)")
        }
        // And for the air-scale arms a naive (vacuum) match finds under 40 % of them (the chance coincidences of a dense list)
        for name in ["XSHOOTER_UVB", "XSHOOTER_VIS", "XSHOOTER_VIS_1x2", "SOXS_VIS"] {
            let s = try #require(byName[name])
            #expect(Double(s.matchedAsGiven) < 0.4 * Double(s.singleWavelengths), "\(name): \(s.matchedAsGiven) as given")
        }
        // And for the vacuum-scale NIR arms converting would not help: the match as given is the one used
        for name in ["XSHOOTER_NIR", "SOXS_NIR"] {
            let s = try #require(byName[name])
            #expect(s.matchedAsGiven == s.matchedOnTableScale)
        }
    }

    @Test("Positions are the tables' 1-based detector_x/y minus 1, at each binning's own table")
    func positionsAreZeroBased() throws {
        // Given THEO_TAB_SING_VIS_1x2.fits row 1: 541.7486 nm, order 29, slit 0, detector (180.63016, 240.53609) (1-based, binned 1×2)
        let map = try PinholeMap.read(path: Self.staticDirectory + "/XSHOOTER_VIS_1x2_pinhole_map.csv")
        // Then the map holds it 0-based, to 10⁻⁴ px, with its binning
        let entry = try #require(map.entries.first { abs($0.wavelength - 541.748596) < 1e-5 && $0.order == 29 && $0.slit == 0 })
        #expect(abs(entry.x - 179.6302) < 1e-4)
        #expect(abs(entry.y - 239.5361) < 1e-4)
        #expect(map.binning == 1 && map.metadata["binningY"] == "2")
        #expect(map.metadata["orders"] == "16-30")
    }

    @Test("The X-shooter nominal models reproduce the physical model's pinhole positions to 0.05 px in x, 0.1 px in y")
    func nominalModelsFitTheTables() throws {
        let summaries = try SoxspipeStaticConverter(manifestPath: Self.manifest).convert().summaries
        for s in summaries where s.name.hasPrefix("XSHOOTER") {
            #expect(s.worstFitX < 0.05 && s.worstFitY < 0.1, "\(s.name): worst \(s.worstFitX), \(s.worstFitY) px")
        }
    }

    @Test("The spectral formats hold every order of the tables with its lamp: X-shooter UVB 13-24 (D2 for 21-24), VIS 16-30, NIR 11-26")
    func spectralFormats() throws {
        let uvb = try SpectralFormat.read(path: Self.staticDirectory + "/XSHOOTER_UVB_spectral_format.csv")
        #expect(uvb.orders.map(\.order) == Array(13...24))
        #expect(uvb.orders.filter { $0.lamp == "D2" }.map(\.order) == [21, 22, 23, 24])
        // SPECTRAL_FORMAT_TAB_UVB row of order 13: WLMINFUL 536.58, WLMAXFUL 603.16 nm
        #expect(abs(uvb.orders[0].minimumWavelength - 536.58) < 0.01 && abs(uvb.orders[0].maximumWavelength - 603.16) < 0.01)
        #expect(try SpectralFormat.read(path: Self.staticDirectory + "/XSHOOTER_VIS_spectral_format.csv").orders.map(\.order) == Array(16...30))
        #expect(try SpectralFormat.read(path: Self.staticDirectory + "/XSHOOTER_NIR_spectral_format.csv").orders.map(\.order) == Array(11...26))
    }
}
