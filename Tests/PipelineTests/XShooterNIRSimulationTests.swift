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
/// calibd reduces it without a bias: each lamp frame's set takes its lamp-off twins
/// (`inputs.lampOff`) in place of an MBIAS (`upstreamBySetup`), the darks make an MDARK in
/// ADU, and every recipe reads the configured window (`detector.scienceColumns/Rows`).
/// One night is simulated (≈1.5 min in a debug build) and reduced (≈45 s), at the NIR's
/// native size: the Hawaii-2RG is never binned, and 2048 × 1100 is already the size of a
/// 2×2-binned VIS frame.
@Suite("X-shooter NIR simulation", .serialized)
struct XShooterNIRSimulationTests {
    @Test("A simulated NIR night classifies without a bias and is reduced end to end: every product passes QC; shift, dispersion and order centres match the truth")
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
        #expect(run.status == 0, "\(run.stderr)")
        // (and the night is complete: no MBIAS is asked for the NIR, whose recipes need none)
        #expect(run.stdout.contains("complete: 7/7 products QC-passed, 0 missing"), "\(run.stdout)")
        let database = try CalibrationDatabase(path: ws.database)
        let frames = try database.frames().map(\.frame)
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

        // And every product type of the chain but the master bias exists once, QC passed (no MBIAS anywhere)
        for type in [ProductType.masterDark, .orderCentres, .masterFlat, .flat, .blaze, .e2ds, .dispersionMap, .dispersionImage, .lampFlux] {
            let products = try database.products(type: type)
            #expect(products.count == 1 && products.allSatisfy(\.qcPassed), "\(type.rawValue): \(products.map { "\($0.setup) \($0.qcPassed)" })")
        }
        #expect(try database.products(type: .masterBias).isEmpty)
        // And each lamp recipe subtracted its own template's lamp-off frames: as many as its lamp frames, DARK OFF, same template
        for job in try database.jobs() where job.recipe != "mdark" {
            let inputs = try database.inputs(ofJob: job.id!).map(\.frame)
            let off = inputs.filter { $0.frameType == .dark && $0.lamp == "OFF" }, on = inputs.filter { $0.lamp != "OFF" }
            #expect(!on.isEmpty && off.count == on.count && Set(off.map(\.tplStart)) == Set(on.map(\.tplStart)),
                    "\(job.recipe): \(on.count) lamp frames, \(off.count) lamp-off frames")
        }
        // And the master dark, made without a bias, holds the offset plus 10 s of dark signal in ADU, 1000 + 0.05·10/2.12,
        // within 0.05 ADU (its pixels' noise, ~2 ADU, averages to ~0.002 ADU over the window)
        let masterDark = try #require(try database.products(type: .masterDark).first)
        let darkLevel = try #require(try database.metrics(ofProduct: masterDark.id!).first { $0.name == "darkLevelADU" }?.value)
        #expect(abs(darkLevel - (1000 + 0.05 * 10 / 2.12)) < 0.05, "master dark level \(darkLevel) ADU")

        // And the night shift is recovered within 0.005 px on both axes (the issue's target)
        let map = try #require(try database.products(type: .dispersionMap).first)
        let qc = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: map.id!).map { ($0.name, $0.value ?? .nan) })
        #expect(abs(try #require(qc["offsetXMedian"]) - shift.x) < 0.005, "\(qc["offsetXMedian"] ?? .nan) vs \(shift.x)")
        #expect(abs(try #require(qc["offsetYMedian"]) - shift.y) < 0.005, "\(qc["offsetYMedian"] ?? .nan) vs \(shift.y)")
        // And the dispersion solution puts every central-pinhole line of the map where it was rendered: median ≤ 0.01 px,
        // worst ≤ 0.05 px (in the window's frame, which is the map's)
        let solution = try DispersionMapFile.read(path: map.path)
        let lines = try simulator.map(arm: "NIR", binx: 1, biny: 1).centralPinhole.entries
        let errors = lines.map { line -> Double in
            let p = solution.position(order: line.order, wavelength: line.wavelength)
            return hypot(p.x - (line.x + shift.x), p.y - (line.y + shift.y))
        }.sorted()
        #expect(errors[errors.count / 2] <= 0.01 && errors.last! <= 0.05,
                "NIR: median \(errors[errors.count / 2]) px, worst \(errors.last!) px over \(errors.count) lines")
        // And the order centres are the truth's within 0.02 px (median over every order and every 8th row it spans)
        let centresProduct = try #require(try database.products(type: .orderCentres).first)
        let geometry = try OrderTableFile.read(path: centresProduct.path)
        #expect(geometry.orders.count == 16)
        var centreErrors: [Double] = []
        for order in geometry.orders {
            guard let rows = geometry.rowRanges[order] else { continue }
            for row in stride(from: rows.lowerBound, through: rows.upperBound, by: 8) {
                guard let true_ = format.centre(order: order, row: Double(row)) else { continue }
                centreErrors.append(abs(geometry.centre.evaluate(Double(order), Double(row)) - true_))
            }
        }
        centreErrors.sort()
        #expect(centreErrors.count > 100 && centreErrors[centreErrors.count / 2] <= 0.02,
                "NIR: order centres median \(centreErrors[centreErrors.count / 2]) px, worst \(centreErrors.last ?? .nan) over \(centreErrors.count)")
        // And the master flat flags at most 0.05 % of the inner pixels as low-sensitivity (no defects are injected)
        let flat = try #require(try database.products(type: .masterFlat).first)
        // (its provenance names the three flats and the three lamp-off frames subtracted)
        let flatFile = try FITSFile.open(flat.path)
        defer { try? flatFile.close() }
        let header = try flatFile.readHeader()
        let rawTypes = (1...6).compactMap { header.string("ESO PRO REC1 RAW\($0) CATG") }
        #expect(rawTypes == ["FLAT", "FLAT", "FLAT", "DARK", "DARK", "DARK"], "\(rawTypes)")
        let cold = try #require(try database.metrics(ofProduct: flat.id!).first { $0.name == "coldPixelFraction" }?.value)
        #expect(cold <= 0.0005, "NIR cold-pixel fraction \(cold)")
    }
}
