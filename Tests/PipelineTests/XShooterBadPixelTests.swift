import CalibCore
import CalibDB
import FITS
import Foundation
import Pipeline
import Recipes
import Simulator
import Testing

/// X-shooter's static bad-pixel map (ESO's, shipped by SOXSPIPE, converted to
/// config/static/XSHOOTER_<ARM>[_<BX>x<BY>]_bad_pixels.csv) injected by the simulator
/// (`calibctl simulate --bad-pixels`: those pixels respond at 0.3 of a normal one on every
/// illuminated frame) and found by the master flat's low-sensitivity flags. The VIS arm at
/// 2×2 keeps the night small (≈1 min to simulate, ≈1 min to reduce in a debug build).
@Suite("X-shooter static bad pixels", .serialized)
struct XShooterBadPixelTests {
    @Test("Injected static bad pixels: ≥ 99 % of those inside the orders are flagged low-sensitivity by MFLAT, ≤ 0.05 % of the other pixels are")
    func badPixelsFound() throws {
        // Given a VIS 2×2 night with the static map's bad pixels injected
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let night = "2026-12-01"
        let simulate = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--instrument", "XSHOOTER", "--arms", "VIS",
                                                          "--binning", "2x2", "--bad-pixels", "--out", ws.simulation, "--night", night,
                                                          "--seed", "5"], timeout: 600)
        #expect(simulate.status == 0, "\(simulate.stderr)")
        let staticDirectory = TestWorkspace.repositoryConfig + "/static"
        let simulator = try StaticModelNightSimulator(modelPath: TestWorkspace.repositoryConfig + "/simulator/xshooter.yaml",
                                                      staticDirectory: staticDirectory) { arm, bx, by in
            try StaticNominalModel.load(staticDirectory: staticDirectory, instrument: "XSHOOTER", arm: arm, binx: bx, biny: by)
        }
        let injected = try #require(try simulator.badPixels(arm: "VIS", binx: 2, biny: 2))
        let truth = try ws.truth(night: night, arm: "VIS")
        // (BP_MAP_RP_VIS_2x2: 1086 pixels, every one inside the 1024 × 2000 window)
        #expect(injected.count == 1086 && truth["badPixels"] as? Int == 1086)

        // When calibd reduces it
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"], timeout: 900)
        #expect(run.status == 0, "\(run.stderr)")
        let database = try CalibrationDatabase(path: ws.database)
        let flat = try #require(try database.products(type: .masterFlat).first)
        #expect(flat.qcPassed)
        let file = try FITSFile.open(flat.path)
        defer { try? file.close() }
        try file.moveTo(extensionName: "BPM")
        let shape = try file.imageShape()
        let flags = try file.readImage(as: Float.self).map { UInt8(max(0, min(255, $0))) }
        #expect(shape == [1024, 2000])
        let width = shape[0]
        // Then of the injected pixels inside the orders (neither inter-order nor order-edge, where no response is measured),
        // at least 99 % are flagged low-sensitivity
        let unmeasured = PixelFlag.interOrder | PixelFlag.orderEdge
        let inside = injected.filter { flags[$0.y * width + $0.x] & unmeasured == 0 }
        let found = inside.count { flags[$0.y * width + $0.x] & PixelFlag.lowSensitivity != 0 }
        #expect(inside.count > 300, "\(inside.count) injected pixels inside the orders")
        #expect(Double(found) >= 0.99 * Double(inside.count), "found \(found) of \(inside.count)")
        // And of the other pixels inside the orders at most 0.05 % are (false low-sensitivity pixels)
        var measured = 0, falseFlags = 0
        for y in 0..<shape[1] {
            for x in 0..<width where flags[y * width + x] & unmeasured == 0 && !injected.contains(.init(x: x, y: y)) {
                measured += 1
                if flags[y * width + x] & PixelFlag.lowSensitivity != 0 { falseFlags += 1 }
            }
        }
        #expect(Double(falseFlags) <= 0.0005 * Double(measured), "\(falseFlags) false of \(measured)")
        print("X-shooter VIS 2x2 bad pixels: \(found)/\(inside.count) injected inside the orders found "
              + "(\(injected.count) injected), \(falseFlags)/\(measured) other pixels flagged")
    }
}
