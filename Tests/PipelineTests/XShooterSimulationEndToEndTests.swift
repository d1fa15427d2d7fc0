import CalibCore
import CalibDB
import Foundation
import Pipeline
import Recipes
import Simulator
import Testing

/// X-shooter's UVB and VIS arms simulated from the shipped static files (ESO's physical model:
/// pinhole maps, nominal models, spectral formats) and reduced by calibd with the X-shooter
/// profile through the whole chain. The UVB's 180° turn, the per-axis binning, the
/// per-binning maps and nominal models and the D2/QTH stitch all have to agree for the
/// figures to come out right; each is judged against the simulator's truth.
@Suite("End to end: X-shooter from its physical model", .serialized)
struct XShooterSimulationEndToEndTests {
    static let night = "2026-12-01"

    @Test("calibd --once on a simulated X-shooter UVB+VIS night: every product passes QC; shift, order centres and dispersion match the truth",
          arguments: ["2x2", "1x2"])
    func uvbAndVis(binning: String) throws {
        // Given a night of UVB and VIS biases, darks, flats (UVB: D2 and QTH), order definitions and pinhole arcs,
        // everything displaced by a known shift
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let simulate = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--instrument", "XSHOOTER", "--arms", "UVB,VIS",
                                                          "--binning", binning, "--out", ws.simulation, "--night", Self.night, "--seed", "3"], timeout: 600)
        #expect(simulate.status == 0, "\(simulate.stderr)")
        let factors = binning.split(separator: "x").map { Int($0)! }
        // When calibd reduces it
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"], timeout: 900)
        #expect(run.status == 0, "\(run.stderr)")
        // Then every frame is an XSHOOTER frame, and each arm has every product type of the chain, QC passed
        let database = try CalibrationDatabase(path: ws.database)
        let frames = try database.frames()
        #expect(frames.count == 31 && frames.allSatisfy { $0.frame.instrument == "XSHOOTER" && $0.frame.problem == nil }, "\(frames.count) frames")
        for type in [ProductType.masterBias, .masterDark, .orderCentres, .masterFlat, .flat, .blaze, .e2ds, .dispersionMap, .dispersionImage, .lampFlux] {
            let products = try database.products(type: type)
            #expect(products.count == 2 && products.allSatisfy(\.qcPassed), "\(type.rawValue): \(products.map { "\($0.setup) \($0.qcPassed)" })")
        }
        let truthData = try Data(contentsOf: URL(fileURLWithPath: "\(ws.simulation)/truth/\(Self.night)/truth.json"))
        let truth = try #require((try JSONSerialization.jsonObject(with: truthData) as? [String: Any])?["arms"] as? [String: [String: Any]])
        let staticDirectory = TestWorkspace.repositoryConfig + "/static"
        let simulator = try StaticModelNightSimulator(modelPath: TestWorkspace.repositoryConfig + "/simulator/xshooter.yaml",
                                                      staticDirectory: staticDirectory) { arm, bx, by in
            try StaticNominalModel.load(staticDirectory: staticDirectory, instrument: "XSHOOTER", arm: arm, binx: bx, biny: by)
        }
        func metrics(_ product: ProductRecord) throws -> [String: Double] {
            Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: product.id!).map { ($0.name, $0.value ?? .nan) })
        }
        func armOf(_ product: ProductRecord) throws -> String { try #require(try Setup(parsing: product.setup)["arm"]) }

        for product in try database.products(type: .dispersionMap) {
            let arm = try armOf(product)
            let armTruth = try #require(truth[arm])
            let shift = (x: try #require(armTruth["shiftX"] as? Double), y: try #require(armTruth["shiftY"] as? Double))
            let qc = try metrics(product)
            // And each arm's night shift is the simulated one within 0.005 px on both axes (the issue's target)
            #expect(abs(try #require(qc["offsetXMedian"]) - shift.x) < 0.005, "\(arm): \(qc["offsetXMedian"] ?? .nan) vs \(shift.x)")
            #expect(abs(try #require(qc["offsetYMedian"]) - shift.y) < 0.005, "\(arm): \(qc["offsetYMedian"] ?? .nan) vs \(shift.y)")
            // And the dispersion solution puts every central-pinhole line of the map where it was rendered:
            // median distance ≤ 0.01 px, worst ≤ 0.05 px
            let solution = try DispersionMapFile.read(path: product.path)
            let lines = try simulator.map(arm: arm, binx: factors[0], biny: factors[1]).centralPinhole.entries
            let errors = lines.map { line -> Double in
                let p = solution.position(order: line.order, wavelength: line.wavelength)
                return hypot(p.x - (line.x + shift.x), p.y - (line.y + shift.y))
            }.sorted()
            #expect(errors[errors.count / 2] <= 0.01 && errors.last! <= 0.05,
                    "\(arm) \(binning): median \(errors[errors.count / 2]) px, worst \(errors.last!) px over \(errors.count) lines")

            // And the order centres are the truth's within 0.02 px (median over every order and every 8th row it spans)
            let centres = try #require(try database.products(type: .orderCentres).first { try armOf($0) == arm })
            let geometry = try OrderTableFile.read(path: centres.path)
            let format = try simulator.format(arm: arm, binx: factors[0], biny: factors[1], shift: shift)
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
                    "\(arm) \(binning): order centres median \(centreErrors[centreErrors.count / 2]) px, worst \(centreErrors.last ?? .nan) over \(centreErrors.count)")
        }
        // And the master flat flags at most 0.05 % of the inner pixels as low-sensitivity on frames without injected
        // defects (the issue's bound; a global threshold and the rows past an order's sharp end made it 0.24 % in UVB)
        for product in try database.products(type: .masterFlat) {
            let arm = try armOf(product), qc = try metrics(product)
            let cold = try #require(qc["coldPixelFraction"])
            #expect(cold <= 0.0005, "\(arm) \(binning): cold-pixel fraction \(cold)")
            // And the UVB's D2 flats are scaled to the QTH ones by the simulated ratio in order 21: 0.15×20000 / 15000 = 0.2
            if arm == "UVB" { #expect(abs(try #require(qc["stitchScale"]) - 0.2) < 0.002, "stitch scale \(qc["stitchScale"] ?? .nan)") }
        }
    }
}
