import CalibDB
import FITS
import Foundation
import Glibc
import GRDB
import Testing

/// What must be identical between an interrupted-and-restarted run and an uninterrupted one.
struct DatabaseContent: Equatable, CustomStringConvertible {
    var frames: [String]
    var products: [String]
    var metrics: [String]

    init(_ database: CalibrationDatabase) throws {
        frames = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT checksum, frame_type, status, night, setup FROM frame ORDER BY checksum").map {
                "\($0["checksum"] as String) \($0["frame_type"] as String) \($0["status"] as String) \($0["night"] as String? ?? "") \($0["setup"] as String? ?? "")"
            }
        }
        products = try database.products(includeSuperseded: false).map {
            "\($0.productType.rawValue) \($0.night) \($0.setup) qc=\($0.qcPassed)"
        }.sorted()
        metrics = try database.products(includeSuperseded: false).flatMap { product in
            try database.metrics(ofProduct: product.id!).map {
                "\(product.productType.rawValue) \($0.name) \($0.value.map { String(format: "%.9g", $0) } ?? "nan") \($0.passed)"
            }
        }.sorted()
    }

    var description: String { "\(frames.count) frames, products \(products), \(metrics.count) metrics" }
}

@Suite("Crash recovery", .serialized)
struct CrashRecoveryTests {
    /// Files under the products directory: recorded products and anything else.
    func productFiles(_ ws: TestWorkspace) -> [String] {
        let root = ws.workspace + "/products"
        let walker = FileManager.default.enumerator(atPath: root)
        var files: [String] = []
        while let relative = walker?.nextObject() as? String {
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: root + "/" + relative, isDirectory: &isDirectory), !isDirectory.boolValue {
                files.append(root + "/" + relative)
            }
        }
        return files.sorted()
    }

    @Test("20 runs killed with SIGKILL at random moments, then restarted, end as an uninterrupted run does")
    func killNineTwentyTimes() throws {
        // One simulated night, shared read-only by every run.
        let source = try TestWorkspace()
        defer { source.remove() }
        try source.simulate(size: 256, arms: "BLUE,RED")

        func makeRun() throws -> TestWorkspace {
            let ws = try TestWorkspace()
            try FileManager.default.removeItem(atPath: ws.raw)
            try FileManager.default.createSymbolicLink(atPath: ws.raw, withDestinationPath: source.raw)
            return ws
        }

        let reference = try makeRun()
        defer { reference.remove() }
        let started = Date()
        let uninterrupted = try runCommand(Binaries.calibd, ["--config", reference.config, "--once", "--log-level", "error"])
        #expect(uninterrupted.batchRanToEnd)
        let referenceDuration = Date().timeIntervalSince(started)
        let expected = try DatabaseContent(try CalibrationDatabase(path: reference.database))
        #expect(!expected.products.isEmpty)

        var generator = SystemRandomNumberGenerator()
        for run in 0..<20 {
            let ws = try makeRun()
            defer { ws.remove() }
            // Half the runs kill the daemon, half a batch run; anywhere from start-up to the end.
            let delay = Double.random(in: 0...(referenceDuration * 1.2), using: &generator)
            let process = Process()
            process.executableURL = URL(fileURLWithPath: Binaries.calibd)
            process.arguments = ["--config", ws.config, "--log-level", "error"] + (run % 2 == 0 ? ["--once"] : [])
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            usleep(useconds_t(delay * 1e6))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()

            let restart = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
            #expect(restart.batchRanToEnd, "run \(run): restart failed: \(restart.stderr)")
            let database = try CalibrationDatabase(path: ws.database)
            let content = try DatabaseContent(database)
            #expect(content == expected, "run \(run) killed after \(String(format: "%.2f", delay)) s: \(content) vs \(expected)")
            #expect(try database.integrityCheck() == "ok")
            // No duplicate product, no orphan or temporary file: every FITS file on disk is a
            // recorded product, and every other file (a QC plot) belongs to one.
            let recorded = Set(try database.products().map(\.path))
            let onDisk = productFiles(ws)
            let fits = onDisk.filter { $0.hasSuffix(".fits") }
            #expect(fits.count == recorded.count, "run \(run): FITS files \(fits.count), recorded \(recorded.count)")
            let stems = recorded.map { String($0.dropLast(5)) }
            let strays = onDisk.filter { file in !recorded.contains(file) && !stems.contains { file.hasPrefix($0 + "_") } }
            #expect(strays.isEmpty, "run \(run): files that belong to no product: \(strays)")
            #expect(try database.jobs(states: [.running, .queued]).isEmpty)
        }
    }

    @Test("A late sixth bias makes a new master bias that supersedes the first, and best answers with it")
    func lateSixthBias() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let database = try CalibrationDatabase(path: ws.database)
        let first = try #require(try database.products(type: .masterBias).first)

        // A sixth bias of the same template arrives: a real bias's pixels, its own header (and so its own bytes).
        let night = ws.raw + "/2026-11-21"
        let biasPath = try #require(try database.frames().first { $0.frame.frameType == .bias }?.paths.first)
        let original = try FITSFile.open(biasPath)
        var header = try original.readHeader()
        let pixels = try original.readImage(as: UInt16.self)
        let shape = try original.imageShape()
        try original.close()
        header.set("ESO TPL EXPNO", .integer(6))
        header.set("MJD-OBS", .real((header.double("MJD-OBS") ?? 0) + 0.01))
        let late = try FITSFile.create(night + "/SIMECH.late-bias.fits")
        try late.writeImage(pixels.map { $0 &+ 1 }, width: shape[0], height: shape[1], header: header)
        try late.close()

        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let biases = try database.products(type: .masterBias)
        #expect(biases.count == 2)
        let second = try #require(biases.first { $0.id != first.id })
        #expect(try database.product(id: first.id!)?.supersededBy == second.id)
        #expect(try database.job(id: first.jobId)?.state == .superseded)
        #expect(try database.inputs(ofJob: second.jobId).count == 6)
        let best = try #require(try ws.json(["best", "--type", "MBIAS", "--night", "2026-11-21"]) as? [String: Any])
        #expect((best["chosen"] as? [String: Any])?["id"] as? Int == Int(second.id!))
    }
}

@Suite("Late frames", .serialized)
struct LateFrameTests {
    @Test("A late sixth flat makes a new master flat that supersedes the first, and its dependants are re-made")
    func lateSixthFlat() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 512)
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let database = try CalibrationDatabase(path: ws.database)
        let firstFlat = try #require(try database.products(type: .masterFlat).first)
        let firstBlaze = try #require(try database.products(type: .blaze).first)
        #expect(try database.inputs(ofJob: firstFlat.jobId).count == 5)

        // A sixth flat of the same template: a real flat's pixels with its own header and bytes.
        let flatPath = try #require(try database.frames().first { $0.frame.frameType == .flat }?.paths.first)
        let original = try FITSFile.open(flatPath)
        var header = try original.readHeader()
        let pixels = try original.readImage(as: UInt16.self)
        let shape = try original.imageShape()
        try original.close()
        header.set("ESO TPL EXPNO", .integer(6))
        header.set("MJD-OBS", .real((header.double("MJD-OBS") ?? 0) + 0.002))
        let late = try FITSFile.create(ws.raw + "/2026-11-21/SIMECH.late-flat.fits")
        try late.writeImage(pixels.map { $0 == 0 ? 0 : $0 &- 1 }, width: shape[0], height: shape[1], header: header)
        try late.close()

        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let secondFlat = try #require(try database.products(type: .masterFlat).first { $0.id != firstFlat.id })
        #expect(try database.inputs(ofJob: secondFlat.jobId).count == 6)
        #expect(try database.product(id: firstFlat.id!)?.supersededBy == secondFlat.id)
        #expect(try database.job(id: firstFlat.jobId)?.state == .superseded)
        // The blaze used the old master flat and the old five flats: it was made again, once,
        // after the new master flat (not first with the old one), and the old one retired.
        let blazes = try database.products(type: .blaze)
        #expect(blazes.count == 2)
        let secondBlaze = try #require(blazes.first { $0.id != firstBlaze.id })
        #expect(try database.product(id: firstBlaze.id!)?.supersededBy == secondBlaze.id)
        #expect(try database.calibrations(ofJob: secondBlaze.jobId)[.masterFlat]?.id == secondFlat.id)
    }
}
