import CalibCore
import CalibDB
import FITS
import Foundation
import Pipeline
import Testing

@Suite("End to end: the BLUE arm's master flat stitched from D2 and QTH flats", .serialized)
struct StitchedMasterFlatEndToEndTests {
    @Test("One mflat job takes both lamps' flats and records one stitched MFLAT with per-lamp masters, order tables, plots and the scale")
    func night() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 512, arms: "BLUE")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "warning"])
        #expect(run.batchRanToEnd, "calibd --once failed: \(run.stderr)")

        let database = try CalibrationDatabase(path: ws.database)
        let flatJobs = try database.jobs(states: JobState.allCases).filter { $0.recipe == "mflat" }
        #expect(flatJobs.count == 1, "mflat jobs: \(flatJobs.map { "\($0.setup) \($0.state)" })")
        let job = try #require(flatJobs.first)
        #expect(job.state == .succeeded, "\(job.state): \(job.reason ?? "")")
        #expect(job.setup.contains("lamp=D2+QTH"))
        let inputs = try database.inputs(ofJob: job.id!)
        #expect(inputs.filter { $0.frame.lamp == "D2" }.count == 5 && inputs.filter { $0.frame.lamp == "QTH" }.count == 5)

        let flat = try #require(try database.products(type: .masterFlat).first)
        #expect(flat.qcPassed)
        let metrics = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: flat.id!).map { ($0.name, $0) })
        #expect(metrics["stitchOrder"]?.value == 25)
        let scale = try #require(metrics["stitchScale"])
        print("stitched MFLAT \(flat.path): stitchScale \(scale.value), edgeResidualSD \(metrics["edgeResidualSD"]?.value ?? .nan)")
        #expect(scale.passed && metrics["stitchScaleApplied"]?.value == scale.value)
        // Against the simulator's truth: the median over the sampled rows of the true QTH ÷ D2 flux in
        // order 25 at the frames' exposure times, within 1 % (the recipe's median is over all rows).
        let truth = try ws.truth(arm: "BLUE")
        let geometry = try #require(truth["geometry"] as? [String: Any])
        let orders = try #require(geometry["orders"] as? [[String: Any]])
        let order = try #require(orders.first { $0["order"] as? Int == 25 })
        let qthFlux = try #require(order["flatExtractedFluxPerSecond"] as? [Double])
        let d2Flux = try #require(order["d2FlatExtractedFluxPerSecond"] as? [Double])
        let qthTime = try #require(inputs.first { $0.frame.lamp == "QTH" }?.frame.exptime)
        let d2Time = try #require(inputs.first { $0.frame.lamp == "D2" }?.frame.exptime)
        let ratios = zip(qthFlux, d2Flux).filter { $0.1 > 0 && $0.0 > 0 }.map { $0.0 * qthTime / ($0.1 * d2Time) }.sorted()
        let trueScale = ratios[ratios.count / 2]
        let measured = try #require(scale.value)
        print("stitchScale \(measured) vs true \(trueScale) (\(ratios.count) sampled rows)")
        #expect(abs(measured / trueScale - 1) <= 0.01)
        #expect(metrics["orderCount"]?.passed == true && metrics["edgeResidualSD"]?.passed == true)

        // The file: stitched flat, ERR, BPM, ORDERS, then each lamp's flat and order table.
        let file = try FITSFile.open(flat.path)
        #expect(try file.verifyChecksums().values.allSatisfy { $0 })
        try file.moveTo(hdu: 1)
        let header = try file.readHeader()
        #expect(header.double("CALIBD STITCH SCALE") == scale.value)
        for name in ["ERR", "BPM", "ORDERS", "FLAT_D2", "ORDERS_D2", "FLAT_QTH", "ORDERS_QTH"] { try file.moveTo(extensionName: name) }
        try file.close()
        let centres = try OrderTableFile.read(path: try #require(try database.products(type: .orderCentres).first).path)
        let stitched = try OrderTableFile.read(path: flat.path)
        #expect(stitched.orders == centres.orders)
        #expect(stitched.lowerEdge != nil && stitched.upperEdge != nil)
        let d2 = try OrderTableFile.read(path: flat.path, extensionName: "ORDERS_D2")
        let qth = try OrderTableFile.read(path: flat.path, extensionName: "ORDERS_QTH")
        #expect(d2.orders == centres.orders.filter { $0 >= 25 })
        #expect(qth.orders == centres.orders.filter { $0 <= 25 })
        // The factor comes from (nearly) the whole stitch order, not a part a bad column left.
        let stitchRows = try #require(centres.rowRanges[25])
        #expect(metrics["stitchScaleRows"]?.value ?? 0 >= 0.9 * Double(stitchRows.count), "\(metrics["stitchScaleRows"]?.value ?? 0) of \(stitchRows.count) rows")
        let stem = String(flat.path.dropLast(5))
        for suffix in ["_edges.svg", "_edges_D2.svg", "_edges_QTH.svg"] {
            #expect(FileManager.default.fileExists(atPath: stem + suffix), "no \(suffix)")
        }
        // Downstream: the blaze is made from the QTH flats with the stitched MFLAT.
        let blaze = try database.jobs(states: JobState.allCases).filter { $0.recipe == "flatblaze" }
        #expect(blaze.count == 1 && blaze.first?.setup.contains("lamp=QTH") == true, "\(blaze.map(\.setup))")
    }

    @Test("A BLUE night with QTH flats only: the mflat job fails with the reason recorded and no MFLAT is made")
    func missingLamp() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 512, arms: "BLUE")
        var removed = 0
        for name in try FileManager.default.subpathsOfDirectory(atPath: ws.raw) where name.hasSuffix(".fits") {
            let path = ws.raw + "/" + name
            let file = try FITSFile.open(path)
            let lamp = try file.readHeader().string("ESO INS LAMP1 NAME")
            try file.close()
            if lamp == "D2" { try FileManager.default.removeItem(atPath: path); removed += 1 }
        }
        #expect(removed == 5)
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")

        let database = try CalibrationDatabase(path: ws.database)
        let flatJobs = try database.jobs(states: JobState.allCases).filter { $0.recipe == "mflat" }
        #expect(flatJobs.count == 1, "\(run.stdout)")
        let job = try #require(flatJobs.first)
        #expect(job.state == .failed)
        let reason = job.reason ?? ""
        print("mflat job \(job.id!) \(job.state): \(reason)")
        #expect(reason.contains("no D2 flats") && reason.contains("5 QTH") && reason.contains("order 25"), "\(reason)")
        #expect(try database.products(type: .masterFlat).isEmpty)
        // The operator's view: the night report in `calibctl status` lists the failed job with the reason.
        let status = try ws.calibctl(["status"])
        #expect(status.stdout.contains("mflat") && status.stdout.contains("no D2 flats"), "\(status.stdout)")
    }
}
