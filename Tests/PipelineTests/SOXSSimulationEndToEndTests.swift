import CalibCore
import CalibDB
import Foundation
import Pipeline
import Recipes
import Simulator
import Testing

/// SOXS's arms simulated from the shipped static files converted from SOXSPIPE's measured
/// pinhole tables (maps, clipped nominal models, spectral formats) and reduced by calibd with
/// the SOXS profile through the whole chain. VIS: a CCD with four quasi-orders side by side.
/// NIR: a Hawaii-2RG read out with the dispersion along x, transposed by the profile
/// (`detector.orientation`), without a bias (lamp-off twins and a bias-less master dark).
/// Lines are rendered on the nominal model (`linesOnModel`), which is the truth the figures
/// are judged against; the recipes start from the maps, 0.1-0.9 px off it.
/// Each arm is simulated (VIS ≈ 1.7 min, NIR ≈ 3 min in a debug build) and reduced (≈ 1 min).
@Suite("End to end: SOXS from SOXSPIPE's tables", .serialized)
struct SOXSSimulationEndToEndTests {
    static let night = "2026-12-01"

    @Test("calibd --once on a simulated SOXS night: every product passes QC; shift, order centres and dispersion match the truth",
          arguments: ["VIS", "NIR"])
    func soxsArm(arm: String) throws {
        // Given a night of one SOXS arm, displaced by a known shift
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let simulate = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--instrument", "SOXS", "--arms", arm,
                                                          "--out", ws.simulation, "--night", Self.night, "--seed", "3"], timeout: 900)
        #expect(simulate.status == 0, "\(simulate.stderr)")
        // When calibd reduces it
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"], timeout: 900)
        #expect(run.status == 0, "\(run.stderr)")
        // Then every frame is a usable SOXS frame, and every product type of the chain exists once, QC passed
        // (the NIR without any MBIAS: its recipes take lamp-off frames or none)
        let database = try CalibrationDatabase(path: ws.database)
        let frames = try database.frames().map(\.frame)
        #expect(frames.allSatisfy { $0.instrument == "SOXS" && $0.problem == nil })
        let nir = arm == "NIR"
        #expect(frames.count == (nir ? 15 : 12), "\(frames.count) frames")
        var types: [ProductType] = [.masterDark, .orderCentres, .masterFlat, .flat, .blaze, .e2ds, .dispersionMap, .dispersionImage, .lampFlux]
        if !nir { types.append(.masterBias) }
        for type in types {
            let products = try database.products(type: type)
            #expect(products.count == 1 && products.allSatisfy(\.qcPassed), "\(type.rawValue): \(products.map { "\($0.setup) \($0.qcPassed)" })")
        }
        if nir {
            #expect(try database.products(type: .masterBias).isEmpty)
            #expect(run.stdout.contains("complete: 7/7 products QC-passed, 0 missing"), "\(run.stdout)")
        }

        let truth = try ws.truth(night: Self.night, arm: arm)
        let shift = (x: try #require(truth["shiftX"] as? Double), y: try #require(truth["shiftY"] as? Double))
        let staticDirectory = TestWorkspace.repositoryConfig + "/static"
        let simulator = try StaticModelNightSimulator(modelPath: TestWorkspace.repositoryConfig + "/simulator/soxs.yaml",
                                                      staticDirectory: staticDirectory) { arm, bx, by in
            try StaticNominalModel.load(staticDirectory: staticDirectory, instrument: "SOXS", arm: arm, binx: bx, biny: by)
        }
        func metrics(_ product: ProductRecord) throws -> [String: Double] {
            Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: product.id!).map { ($0.name, $0.value ?? .nan) })
        }
        // And the recipe's first measure of the night shift, the median of its lines' offsets from the map, is the simulated
        // shift within 3 standard errors of that median: the map's positions scatter 0.1-0.3 px about the format (SOXSPIPE's
        // tables are measured), which bounds this figure, not the solution's
        let map = try #require(try database.products(type: .dispersionMap).first)
        let qc = try metrics(map)
        let offset = (x: try #require(qc["offsetXMedian"]), y: try #require(qc["offsetYMedian"]))
        let detected = try #require(qc["linesDetected"])
        let bound = (x: 3 * 1.2533 * (qc["offsetXSD"] ?? .nan) / detected.squareRoot(), y: 3 * 1.2533 * (qc["offsetYSD"] ?? .nan) / detected.squareRoot())
        #expect(abs(offset.x - shift.x) < bound.x && abs(offset.y - shift.y) < bound.y, "\(arm): offset \(offset) vs shift \(shift), bound \(bound)")
        // And the solution moved the format by the night shift within 0.005 px on both axes (the issue's target): the median of
        // the solution's positions minus the lines' unshifted positions
        let solution = try DispersionMapFile.read(path: map.path)
        let lines = try simulator.renderedLines(arm: arm, binx: 1, biny: 1).single.entries
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        let moved = (x: median(lines.map { solution.position(order: $0.order, wavelength: $0.wavelength).x - $0.x }),
                     y: median(lines.map { solution.position(order: $0.order, wavelength: $0.wavelength).y - $0.y }))
        #expect(abs(moved.x - shift.x) < 0.005 && abs(moved.y - shift.y) < 0.005, "\(arm): solution shift \(moved) vs \(shift)")
        // And the dispersion solution puts every line of the single-pinhole arc where it was rendered: median ≤ 0.01 px,
        // worst ≤ 0.05 px
        let errors = lines.map { line -> Double in
            let p = solution.position(order: line.order, wavelength: line.wavelength)
            return hypot(p.x - (line.x + shift.x), p.y - (line.y + shift.y))
        }.sorted()
        #expect(errors.count > 40 && errors[errors.count / 2] <= 0.01 && errors.last! <= 0.05,
                "\(arm): median \(errors[errors.count / 2]) px, worst \(errors.last!) px over \(errors.count) lines")
        // And the order centres are the truth's within 0.02 px (median over every order and every 8th row it spans)
        let centres = try #require(try database.products(type: .orderCentres).first)
        let geometry = try OrderTableFile.read(path: centres.path)
        let format = try simulator.format(arm: arm, binx: 1, biny: 1, shift: shift)
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
                "\(arm): order centres median \(centreErrors[centreErrors.count / 2]) px, worst \(centreErrors.last ?? .nan) over \(centreErrors.count)")
        // And the master flat flags at most 0.05 % of the inner pixels as low-sensitivity (no defects are injected)
        let flat = try #require(try database.products(type: .masterFlat).first)
        let cold = try #require(try metrics(flat)["coldPixelFraction"])
        #expect(cold <= 0.0005, "\(arm): cold-pixel fraction \(cold)")
        print("SOXS \(arm): shift (\(shift.x), \(shift.y)); recipe's offset (\(offset.x), \(offset.y)); solution's (\(moved.x), \(moved.y)); dispersion median \(errors[errors.count / 2]) "
              + "worst \(errors.last!) px over \(errors.count) lines; order centres median \(centreErrors[centreErrors.count / 2]) "
              + "worst \(centreErrors.last ?? .nan) px over \(centreErrors.count); cold fraction \(cold)")
    }
}
