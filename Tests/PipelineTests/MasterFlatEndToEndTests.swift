import CalibCore
import CalibDB
import FITS
import Foundation
import Pipeline
import Testing

@Suite("End to end: a simulated night to MFLAT and ORDER_CENTRES", .serialized)
struct MasterFlatEndToEndTests {
    @Test("calibd --once runs mbias → ordertrace/mdark → mflat in dependency order and records MFLAT and ORDER_CENTRES with QC")
    func night() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 512, arms: "RED")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "warning"])
        #expect(run.batchRanToEnd, "calibd --once failed: \(run.stderr)")
        #expect(run.stdout.contains("18 frames recorded, 0 problems"), "\(run.stdout)")

        let database = try CalibrationDatabase(path: ws.database)
        let recipes = Set(try database.jobs(states: [.succeeded]).map(\.recipe))
        #expect(recipes.isSuperset(of: ["mbias", "mdark", "ordertrace", "mflat"]), "succeeded: \(recipes)")
        let products = try database.products()
        func product(_ type: ProductType) throws -> ProductRecord { try #require(products.first { $0.productType == type }, "no \(type)") }
        let bias = try product(.masterBias), dark = try product(.masterDark)
        let centres = try product(.orderCentres), flat = try product(.masterFlat)
        // Dependency order: each job was only planned once its upstream product existed.
        #expect(bias.jobId < centres.jobId)
        #expect(bias.jobId < dark.jobId)
        #expect(centres.jobId < flat.jobId)
        #expect(dark.jobId < flat.jobId)
        // The night's MDARK is an optional upstream of the flat: it was used, and its hot pixels are in the flat's BPM.
        let flatCalibrations = try database.calibrations(ofJob: flat.jobId)
        #expect(flatCalibrations[.masterDark]?.id == dark.id)
        for p in [bias, dark, centres, flat] { #expect(p.qcPassed, "\(p.productType) failed QC") }

        let flatMetrics = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: flat.id!).map { ($0.name, $0) })
        for name in ["coldPixelFraction", "coldPixelCount", "innerOrderMean", "innerOrderSum", "lowSensitivityCount",
                     "interOrderP10", "interOrderP50", "interOrderP90", "edgeResidualMax", "edgeResidualMin", "edgeResidualSD"] {
            #expect(flatMetrics[name] != nil, "MFLAT metric \(name) missing")
        }
        #expect(flatMetrics["innerOrderMean"]?.passed == true)
        let centreMetrics = try database.metrics(ofProduct: centres.id!)
        #expect(centreMetrics.contains { $0.name == "centreResidualRMS" && $0.passed })

        // The MFLAT file: flat, ERR, BPM and the ORDERS table with centres and edges; QC plots beside it.
        let file = try FITSFile.open(flat.path)
        #expect(try file.verifyChecksums().values.allSatisfy { $0 })
        try file.moveTo(hdu: 1)
        #expect(try file.readHeader().string("ESO PRO CATG") == "MFLAT")
        try file.moveTo(extensionName: "ERR")
        try file.moveTo(extensionName: "BPM")
        let flatBPM = try file.readImage(as: Float.self)
        // SIMECH subtracts the intra-order background (none is simulated): the fitted image is in BKGND, near zero.
        try file.moveTo(extensionName: "BKGND")
        #expect(try file.imageShape() == [512, 512])
        try file.close()
        #expect(flatMetrics["backgroundMedianFraction"]?.passed == true)
        #expect(abs(flatMetrics["backgroundMedianFraction"]?.value ?? .nan) < 0.002)
        #expect(FileManager.default.fileExists(atPath: String(flat.path.dropLast(5)) + "_bkgnd.svg"))
        let darkFile = try FITSFile.open(dark.path)
        try darkFile.moveTo(extensionName: "BPM")
        let darkBPM = try darkFile.readImage(as: Float.self)
        try darkFile.close()
        let hot = darkBPM.indices.filter { UInt8(darkBPM[$0]) & 2 != 0 }
        #expect(!hot.isEmpty, "the simulated detector has hot pixels; the MDARK found none")
        #expect(hot.allSatisfy { UInt8(flatBPM[$0]) & 2 != 0 }, "hot pixels of the MDARK missing from the MFLAT's BPM")
        let geometry = try OrderTableFile.read(path: flat.path)
        #expect(geometry.orders == Array(14...26))
        #expect(geometry.lowerEdge != nil && geometry.upperEdge != nil)
        let traced = try OrderTableFile.read(path: centres.path)
        #expect(traced.orders == geometry.orders)
        #expect(FileManager.default.fileExists(atPath: String(flat.path.dropLast(5)) + "_edges.svg"))
        #expect(FileManager.default.fileExists(atPath: String(centres.path.dropLast(5)) + "_centres.svg"))
    }

    @Test("A night without darks still gets its MFLAT, planned without an MDARK (an optional upstream)")
    func nightWithoutDarks() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 512, arms: "RED")
        let files = try FileManager.default.subpathsOfDirectory(atPath: ws.raw).filter { $0.hasSuffix(".fits") }
        let darks = try files.filter { name in
            let file = try FITSFile.open(ws.raw + "/" + name)
            defer { try? file.close() }
            return try file.readHeader().string("ESO DPR TYPE") == "DARK"
        }
        #expect(darks.count == 3, "the simulated night should have 3 darks: \(darks)")
        for name in darks { try FileManager.default.removeItem(atPath: ws.raw + "/" + name) }
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "warning"])
        #expect(run.batchRanToEnd, "calibd --once failed: \(run.stderr)")
        let database = try CalibrationDatabase(path: ws.database)
        #expect(try database.products(type: .masterDark).isEmpty)
        let flat = try #require(try database.products(type: .masterFlat).first)
        let calibrations = try database.calibrations(ofJob: flat.jobId)
        #expect(calibrations[.masterDark] == nil && calibrations[.masterBias] != nil && calibrations[.orderCentres] != nil)
    }
}
