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
        // Then every output matches the shipped file byte for byte (a pinhole map, a nominal model and a bad-pixel list per
        // arm and binning when asked for, a spectral format per arm)
        let conversions = converter.manifest.conversions
        let arms = Set(conversions.map { "\($0.instrument)_\($0.arm)" }).count
        #expect(result.outputs.count == conversions.count + conversions.filter { $0.nominalDegrees != nil }.count
                    + conversions.filter { $0.badPixelMap != nil }.count + arms)
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

    @Test("SOXS NIR's tables disperse along x: the converter swaps the axes, as the profile's transpose turns the raw frames")
    func soxsNIRAxesSwapped() throws {
        // Given SOXS_SPH_TAB_NIR_Xe.fits row 1: 1878.8146 nm, order 10, slit 0, detector (228.5, 419.0) (1-based, x along the dispersion)
        let map = try PinholeMap.read(path: Self.staticDirectory + "/SOXS_NIR_pinhole_map.csv")
        let entry = try #require(map.entries.first { abs($0.wavelength - 1878.8146) < 1e-4 && $0.order == 10 && $0.slit == 0 })
        // Then calibd's x is the table's y and calibd's y its x, each minus 1
        #expect(abs(entry.x - 418.0) < 1e-4 && abs(entry.y - 227.5) < 1e-4, "(\(entry.x), \(entry.y))")
        // And along every order of the map the wavelength runs with y (dispersion along y), and the orders are stacked along x:
        // the order's median x grows with its number
        var medians: [Int: Double] = [:]
        for (order, lines) in Dictionary(grouping: map.centralPinhole.entries, by: \.order) {
            let byY = lines.sorted { $0.y < $1.y }
            let xs = lines.map(\.x).sorted()
            medians[order] = xs[xs.count / 2]
            if byY.count >= 3 {
                let span = (byY.last!.y - byY.first!.y)
                #expect(span > abs(xs.last! - xs.first!), "order \(order): y span \(span), x span \(xs.last! - xs.first!)")
            }
        }
        let orders = medians.keys.sorted()
        #expect(orders.count >= 12)
        for (a, b) in zip(orders, orders.dropFirst()) { #expect(medians[b]! > medians[a]!, "orders \(a), \(b)") }
    }

    @Test("SOXS's measured tables: the clipped nominal models follow every mapped line to 1.5 px, and the clipped lines are not mapped")
    func soxsNominalModelsClipMisidentifiedLines() throws {
        let summaries = try SoxspipeStaticConverter(manifestPath: Self.manifest).convert().summaries
        for s in summaries where s.name.hasPrefix("SOXS") {
            #expect(s.worstFitX < 1.1 && s.worstFitY < 1.1, "\(s.name): worst \(s.worstFitX), \(s.worstFitY) px")
        }
        for name in ["SOXS_VIS", "SOXS_NIR"] {
            // Given the shipped model and map
            let model = try NominalDispersion.read(path: Self.staticDirectory + "/\(name)_nominal_dispersion.json")
            let map = try PinholeMap.read(path: Self.staticDirectory + "/\(name)_pinhole_map.csv")
            // Then every line mapped from the multi-pinhole table lies within 1.5 px of the model (< 1.1 px on each axis; the tables' own scatter is
            // 0.1-0.3 px rms; the central pinhole's come from the single-pinhole table, SOXS NIR's 2 px along the dispersion
            // from the multi-pinhole table's central pinhole)
            let worst = map.entries.filter { $0.slit != 0 }.map { e in
                let p = model.position(order: e.order, wavelength: e.wavelength, slit: e.slit)
                return hypot(p.x - e.x, p.y - e.y)
            }.max() ?? .nan
            #expect(worst < 1.5, "\(name): worst mapped line \(worst) px from the model")
            // And the model names the lines it clipped (SOXS NIR's table puts a dozen 100+ px from their order and wavelength)
            #expect(model.metadata["fitClipped"]?.contains("left out of the pinhole map") == true)
        }
        // SOXS_MPH_TAB_NIR_Xe: order 14, 1391.96 nm sits 100+ px from the other lines' format: not mapped
        let nir = try PinholeMap.read(path: Self.staticDirectory + "/SOXS_NIR_pinhole_map.csv")
        #expect(!nir.entries.contains { $0.order == 14 && abs($0.wavelength - 1391.96) < 1e-3 })
    }

    @Test("X-shooter's static bad-pixel maps become pixel lists: every nonzero pixel of BP_MAP_RP_*, 0-based, in the map's frame")
    func badPixelLists() throws {
        // Given the converted VIS 2×2 list
        let list = try StaticBadPixels.read(path: Self.staticDirectory + "/XSHOOTER_VIS_2x2_bad_pixels.csv")
        // Then it holds BP_MAP_RP_VIS_2x2's 1086 nonzero pixels of 1024 × 2000, all distinct and inside the frame
        #expect(list.pixels.count == 1086 && Set(list.pixels).count == 1086)
        #expect(list.metadata["size"] == "1024x2000")
        #expect(list.pixels.allSatisfy { (0..<1024).contains($0.x) && (0..<2000).contains($0.y) })
        // And the unbinned list holds BP_MAP_RP_VIS_1x1's 2172 of 2048 × 4000
        let unbinned = try StaticBadPixels.read(path: Self.staticDirectory + "/XSHOOTER_VIS_bad_pixels.csv")
        #expect(unbinned.pixels.count == 2172 && unbinned.metadata["size"] == "2048x4000")
        // And the NIR's, in the 1056 × 2040 window after the 90° turn, holds 12349
        let nir = try StaticBadPixels.read(path: Self.staticDirectory + "/XSHOOTER_NIR_bad_pixels.csv")
        #expect(nir.pixels.count == 12349 && nir.metadata["size"] == "1056x2040")
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
