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
