import CalibCore
import Foundation
import Recipes
import Testing

/// Binning per axis: X-shooter's 1×2 mode bins y only, so a binning read from `binx` alone
/// and applied to both axes would put every line hundreds of pixels off in y.
@Suite("Binning on each axis")
struct BinningAxesTests {
    static let staticDirectory = SimulatorFixture.configDirectory + "/static"

    @Test("A pinhole at unbinned (100, 200) is at (100, 99.75) binned 1×2 and back at (100, 200) unbinned")
    func pinholeMapFormula() {
        // Given one unbinned entry
        let map = PinholeMap(entries: [PinholeMap.Entry(wavelength: 500, order: 20, slit: 0, x: 100, y: 200, intensity: 1)], binning: 1)
        // When rebinned to 1 × 2: x_B = (x₁ + ½)/B − ½ on each axis
        let binned = map.rebinned(x: 1, y: 2)
        #expect(binned.entries[0].x == 100 && binned.entries[0].y == 99.75)
        #expect(binned.binning == 1 && binned.binningY == 2)
        // Then back to 1 × 1 exactly, and the square form still scales both axes
        let back = binned.rebinned(x: 1, y: 1)
        #expect(back.entries[0].y == 200 && back.binningY == 1)
        #expect(map.rebinned(to: 2).entries[0].x == 49.75 && map.rebinned(to: 2).entries[0].y == 99.75)
    }

    @Test("ESO's own 1×2 and 2×2 X-shooter VIS tables are the unbinned table rebinned per axis, to 1e-4 px; binx alone would miss by > 900 px in y")
    func eachBinningsTableAgrees() throws {
        // Given the maps converted from THEO_TAB_SING/MULT_VIS_1x1, _1x2 and _2x2
        let unbinned = try PinholeMap.read(path: Self.staticDirectory + "/XSHOOTER_VIS_pinhole_map.csv")
        for (bx, by) in [(1, 2), (2, 2)] {
            let shipped = try PinholeMap.read(path: Self.staticDirectory + "/XSHOOTER_VIS_\(bx)x\(by)_pinhole_map.csv")
            #expect(shipped.binning == bx && shipped.binningY == by)
            // When the unbinned map is rebinned per axis, and (wrongly) with binx on both axes
            let perAxis = unbinned.rebinned(x: bx, y: by), binxOnly = unbinned.rebinned(to: bx)
            struct Key: Hashable { var w: Double, n: Int, s: Double }
            let index = Dictionary(shipped.entries.map { (Key(w: ($0.wavelength * 1e4).rounded(), n: $0.order, s: $0.slit), $0) },
                                   uniquingKeysWith: { a, _ in a })
            var worst = 0.0, worstBinxOnly = 0.0, compared = 0
            for (e, wrong) in zip(perAxis.entries, binxOnly.entries) {
                guard let truth = index[Key(w: (e.wavelength * 1e4).rounded(), n: e.order, s: e.slit)] else { continue }
                worst = max(worst, abs(e.x - truth.x), abs(e.y - truth.y))
                worstBinxOnly = max(worstBinxOnly, abs(wrong.y - truth.y))
                compared += 1
            }
            // Then per axis they agree to the files' 1e-4 px rounding over > 3000 pinhole images
            #expect(compared > 3000)
            #expect(worst <= 1.1e-4, "\(bx)x\(by): \(worst) px")
            if by != bx { #expect(worstBinxOnly > 900, "binx-only miss \(worstBinxOnly) px") }
        }
    }

    @Test("The unbinned nominal model rebinned to 1×2 predicts ESO's 1×2 table positions as well as the 1×2 model does (≤ 0.05 px)")
    func nominalModelPerAxis() throws {
        let unbinned = try NominalDispersion.read(path: Self.staticDirectory + "/XSHOOTER_VIS_nominal_dispersion.json").rebinned(x: 1, y: 2)
        let map = try PinholeMap.read(path: Self.staticDirectory + "/XSHOOTER_VIS_1x2_pinhole_map.csv")
        #expect(unbinned.binningY == 2)
        var worst = 0.0
        for e in map.entries {
            let v = [Double(e.order), e.wavelength, e.slit]
            worst = max(worst, abs(unbinned.x.evaluate(v) - e.x), abs(unbinned.y.evaluate(v) - e.y))
        }
        #expect(worst < 0.05, "worst \(worst) px")
    }

    @Test("Line stamps follow each axis's binning: 12 unbinned px are 12 × 6 binned 1×2; the PSF σ is the axes' geometric mean")
    func locatorPerAxis() throws {
        let fit = try DispersionMapFit(recipe: "disp_solution", parameters: ["psfFWHM": 2.5])
        let locator = fit.locator(binning: 1, binningY: 2, halfWidth: 12, gain: 1, columns: nil)
        #expect(locator.halfWidthX == 12 && locator.halfWidthY == 6)
        #expect(abs(locator.psfSigma - 2.5 / 2.0.squareRoot() / (2 * (2 * log(2.0)).squareRoot())) < 1e-12)
        let square = fit.locator(binning: 2, halfWidth: 12, gain: 1, columns: nil)
        #expect(square.halfWidthX == 6 && square.halfWidthY == 6)
    }
}
