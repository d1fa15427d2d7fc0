import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

@Suite("Static pinhole maps")
struct PinholeMapTests {
    static let staticDirectory = SimulatorFixture.configDirectory + "/static"

    /// The shipped maps are the nominal model's at the unbinned 4096² size;
    /// `CALIBD_WRITE_STATIC_MAPS=1 swift test --filter PinholeMapTests` rewrites them after a model change.
    @Test("The shipped SIMECH maps are what the simulator's nominal model predicts, for every arm")
    func shippedMapsMatchTheModel() throws {
        let simulator = try SimulatorFixture.simulator()
        for armModel in simulator.model.arms {
            let arm = SimulatedArm(model: armModel, size: armModel.detector.nominalPixels, displacement: .identity)
            let generated = arm.nominalPinholeMap(lines: simulator.lines, lineListName: "linelists/thar_nist_pypeit.dat")
            let path = "\(Self.staticDirectory)/SIMECH_\(armModel.name)_pinhole_map.csv"
            if ProcessInfo.processInfo.environment["CALIBD_WRITE_STATIC_MAPS"] == "1" {
                try generated.csv().write(toFile: path, atomically: true, encoding: .utf8)
            }
            let shipped = try PinholeMap.read(path: path)
            #expect(shipped.entries.count == generated.entries.count)
            #expect(shipped.binning == 1)
            let worst = zip(shipped.entries, generated.entries).map { max(abs($0.x - $1.x), abs($0.y - $1.y)) }.max() ?? .infinity
            #expect(worst < 1e-3, "\(armModel.name): shipped map differs from the model by \(worst) px")
            #expect(Set(shipped.slitPositions) == Set([0] + armModel.slit.pinholePositionsArcsec))
        }
    }

    /// The nominal model sampled over the whole slit length and detector: 65 rows per order, the slit
    /// every 1″ over its length, positions up to 20 px beyond the detector's sides.
    static func nominalSamples(_ arm: SimulatedArm) -> (points: [[Double]], x: [Double], y: [Double]) {
        var points: [[Double]] = [], xs: [Double] = [], ys: [Double] = []
        let half = arm.model.slit.lengthArcsec / 2
        let n = Double(arm.size)
        for order in arm.orders {
            for k in 0...64 {
                let row = -0.5 + n * Double(k) / 64
                for s in stride(from: -half.rounded(.up), through: half.rounded(.up), by: 1.0) {
                    let lam = arm.nominalWavelength(order: order, y: row, slit: s)
                    let p = arm.nominalPosition(order: order, wavelength: lam, slit: s)
                    guard lam.isFinite, p.x > -20, p.x < n + 20 else { continue }
                    points.append([Double(order), lam, s]); xs.append(p.x); ys.append(p.y)
                }
            }
        }
        return (points, xs, ys)
    }

    /// `CALIBD_WRITE_STATIC_MAPS=1 swift test --filter PinholeMapTests` rewrites these too.
    @Test("The shipped nominal dispersion models reproduce the simulator's nominal model over the whole detector to 0.005 px, and rebin exactly")
    func shippedNominalModels() throws {
        let simulator = try SimulatorFixture.simulator()
        for armModel in simulator.model.arms {
            let arm = SimulatedArm(model: armModel, size: armModel.detector.nominalPixels, displacement: .identity)
            let samples = Self.nominalSamples(arm)
            let path = "\(Self.staticDirectory)/SIMECH_\(armModel.name)_nominal_dispersion.json"
            if ProcessInfo.processInfo.environment["CALIBD_WRITE_STATIC_MAPS"] == "1" {
                let fitted = try NominalDispersion.fit(
                    points: samples.points, x: samples.x, y: samples.y, degrees: [5, 5, 2],
                    metadata: ["instrument": "SIMECH", "arm": armModel.name, "model": "nominal (no night displacement)",
                               "size": "\(arm.size)", "samples": "65 rows per order, slit every 1 arcsec"],
                    binning: arm.binning)
                print("\(armModel.name) nominal model fitted: worst x \(fitted.worstX) px, worst y \(fitted.worstY) px")
                try fitted.model.json().write(toFile: path, atomically: true, encoding: .utf8)
            }
            let shipped = try NominalDispersion.read(path: path)
            var worst = 0.0
            for (k, p) in samples.points.enumerated() {
                worst = max(worst, abs(shipped.x.evaluate(p) - samples.x[k]), abs(shipped.y.evaluate(p) - samples.y[k]))
            }
            #expect(worst < 0.005, "\(armModel.name): nominal model off by \(worst) px")
            // Rebinned to 4×4, it is the 1024² detector's nominal model.
            let small = SimulatedArm(model: armModel, size: armModel.detector.nominalPixels / 4, displacement: .identity)
            let rebinned = shipped.rebinned(to: shipped.binning * 4)
            let smallSamples = Self.nominalSamples(small)
            var worstSmall = 0.0
            for (k, p) in smallSamples.points.enumerated() {
                worstSmall = max(worstSmall, abs(rebinned.x.evaluate(p) - smallSamples.x[k]), abs(rebinned.y.evaluate(p) - smallSamples.y[k]))
            }
            #expect(worstSmall < 0.005 / 4 + 1e-6, "\(armModel.name) at 4×4: off by \(worstSmall) px")
        }
    }

    @Test("Rebinning the unbinned map to 4×4 gives the nominal positions of the 1024² detector")
    func rebinning() throws {
        let simulator = try SimulatorFixture.simulator()
        let model = try #require(simulator.model.arm(named: "BLUE"))
        let shipped = try PinholeMap.read(path: "\(Self.staticDirectory)/SIMECH_BLUE_pinhole_map.csv").rebinned(to: 4)
        let small = SimulatedArm(model: model, size: 1024, displacement: .identity)
        for e in shipped.entries.prefix(200) {
            let p = small.nominalPosition(order: e.order, wavelength: e.wavelength, slit: e.slit)
            #expect(abs(p.x - e.x) < 1e-3 && abs(p.y - e.y) < 1e-3)
        }
    }

    @Test("A malformed row is refused with its line number")
    func malformed() {
        #expect(throws: PinholeMapError.self) { try PinholeMap.parse("wavelength_nm,order,slit_arcsec,x_px,y_px\n500,20,0,1\n") }
    }
}
