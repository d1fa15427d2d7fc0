import CalibCore
import CalibDB
import FITS
import Foundation
import Pipeline
import Recipes
import Simulator
import Testing

/// X-shooter's NIR arm simulated from the shipped static files: no bias, darks at the lamp
/// frames' DIT and NDIT, every lamp frame followed by its lamp-off twin (DPR TYPE DARK), the
/// Hawaii-2RG read out 2048 × 1100 and turned 90° by the profile, the light-sensitive window
/// (columns 20-1076, rows 4-2044 after the turn) holding the physical model's format.
/// The NIR is not reduced yet (the recipes subtract an MBIAS and crop columns only); this
/// checks what calibd records and where the light is.
@Suite("X-shooter NIR simulation", .serialized)
struct XShooterNIRSimulationTests {
    @Test("A simulated NIR night classifies as darks, lamp-off darks and lamp frames without a bias; its orders sit where the truth puts them")
    func nirNight() throws {
        // Given a simulated NIR night
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let night = "2026-12-01"
        let simulate = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--instrument", "XSHOOTER", "--arms", "NIR",
                                                          "--out", ws.simulation, "--night", night, "--seed", "3"], timeout: 600)
        #expect(simulate.status == 0, "\(simulate.stderr)")
        // When calibd records it
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"], timeout: 600)
        #expect(run.batchRanToEnd || run.status == 1, "\(run.stderr)")
        let frames = try CalibrationDatabase(path: ws.database).frames().map(\.frame)
        // Then every frame is usable; there is no bias; three darks at DIT 10 s, NDIT 1; each of the 3 flats, the order
        // definition and the two arcs has a lamp-off DARK twin at the same DIT
        #expect(frames.count == 15 && frames.allSatisfy { $0.problem == nil && $0.instrument == "XSHOOTER" })
        func count(_ type: FrameType, _ lamp: String?) -> Int { frames.count { $0.frameType == type && $0.lamp == lamp } }
        #expect(count(.bias, nil) == 0)
        #expect(count(.dark, nil) == 3 && count(.dark, "OFF") == 6 && count(.flat, "QTH") == 3 && count(.orderDefinition, "QTH") == 1)
        #expect(count(.arcPinhole, "ARC") == 1 && count(.arcMultiPinhole, "ARC") == 1)
        #expect(frames.allSatisfy { $0.exptime == 10 && ($0.setup ?? "").contains("ndit=1") && ($0.setup ?? "").contains("readSpeed=NonDest") })

        // And the order definition minus its lamp-off twin, turned as the profile says, peaks at the truth's order
        // centres (plus the window's 20 columns) within 0.1 px on the middle row
        let ordered = frames.sorted { ($0.mjdObs ?? 0) < ($1.mjdObs ?? 0) }
        let onIndex = try #require(ordered.firstIndex { $0.frameType == .orderDefinition })
        let off = ordered[onIndex + 1]
        #expect(off.frameType == .dark && off.lamp == "OFF")
        let profile = try #require(try ConfigurationLocator.load(configPath: ws.config).profiles.first { $0.name == "XSHOOTER" })
        func turned(_ path: String) throws -> Image {
            let stack = try FITSFrameStack(paths: [path], orientation: profile.orientation(of:))
            return try stack.image(0)
        }
        let on = try turned(ordered[onIndex].path), dark = try turned(off.path)
        #expect(on.width == 1100 && on.height == 2048)
        let truth = try ws.truth(night: night, arm: "NIR")
        let shift = (x: try #require(truth["shiftX"] as? Double), y: try #require(truth["shiftY"] as? Double))
        let staticDirectory = TestWorkspace.repositoryConfig + "/static"
        let simulator = try StaticModelNightSimulator(modelPath: TestWorkspace.repositoryConfig + "/simulator/xshooter.yaml",
                                                      staticDirectory: staticDirectory) { arm, bx, by in
            try StaticNominalModel.load(staticDirectory: staticDirectory, instrument: "XSHOOTER", arm: arm, binx: bx, biny: by)
        }
        let format = try simulator.format(arm: "NIR", binx: 1, biny: 1, shift: shift)
        let row = 1000, rawRow = row + 4
        var checked = 0
        for order in format.format.orders.map(\.order) {
            guard let centre = format.centre(order: order, row: Double(row)) else { continue }
            let x0 = Int(centre.rounded()) + 20
            // Centroid over ±3 px of the lamp-on minus lamp-off profile
            var sum = 0.0, weighted = 0.0
            for x in (x0 - 3)...(x0 + 3) {
                let v = Double(on[x, rawRow] - dark[x, rawRow])
                sum += v; weighted += v * Double(x)
            }
            let measured = weighted / sum - 20
            #expect(abs(measured - centre) < 0.1, "order \(order): centroid \(measured), truth \(centre)")
            checked += 1
        }
        #expect(checked == 16, "orders on row \(row): \(checked)")
    }
}
