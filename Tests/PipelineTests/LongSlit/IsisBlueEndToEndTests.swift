import CalibCore
import CalibDB
import FITS
import Foundation
import Testing

/// A real ISIS blue calibration set (2 biases, 3 flats of which one saturated, the CuNe+CuAr arc;
/// cropped to 200 columns) reduced by `calibd --once` with the isis profile: pixels in HDU 1,
/// the saturated flat left out with its reason, the slit filling the window.
@Suite("End to end: real ISIS blue long-slit calibrations", .serialized)
struct IsisBlueEndToEndTests {
    @Test("calibd --once on real ISIS blue frames makes MBIAS, CRV_MODEL, IDS_MODEL and PIXEL_FLAT with QC passed; r2324580 is left out as saturated")
    func isisNight() throws {
        // Given the raw ISIS frames in a watched directory
        let ws = try TestWorkspace()
        defer { ws.remove() }
        for path in IsisBlueFrames.biases + IsisBlueFrames.flats + [IsisBlueFrames.arc] {
            try FileManager.default.copyItem(atPath: path, toPath: ws.raw + "/" + (path as NSString).lastPathComponent)
        }
        // When calibd reduces them once
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        // And the night is complete: no job failed and none waits for frames the night does not have
        #expect(run.status == 0 && run.stdout.contains("night 2016-02-09 complete: 4/4 products QC-passed, 0 missing"), "\(run.stdout)")
        // Then every frame is an ISIS frame, classified from OBSTYPE
        let database = try CalibrationDatabase(path: ws.database)
        let frames = try database.frames()
        #expect(frames.count == 6 && frames.allSatisfy { $0.frame.instrument == "ISIS" && $0.frame.problem == nil },
                "\(frames.map { "\($0.frame.path) \($0.frame.instrument ?? "-") \($0.frame.problem ?? "")" })")
        #expect(frames.filter { $0.frame.frameType == .flat }.count == 3)
        // And one product of each type, QC passed
        for type in [ProductType.masterBias, .curvatureModel, .inverseDispersionModel, .pixelFlat] {
            let products = try database.products(type: type)
            #expect(products.count == 1 && products.allSatisfy(\.qcPassed), "\(type.rawValue): \(products.map { "\($0.setup) \($0.qcPassed)" })")
        }
        // And the CRV model used the two good flats, leaving out the saturated one with the reason in its header
        let crv = try #require(try database.products(type: .curvatureModel).first)
        let edges = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: crv.id!).map { ($0.name, $0.value ?? .nan) })
        #expect(edges["frameCount"] == 2 && edges["rejectedFrames"] == 1)
        #expect(edges["edgesAtBorder"] == 2)
        let file = try FITSFile.open(crv.path)
        defer { try? file.close() }
        let history = try file.readHeader().cards.filter { $0.key == "HISTORY" }.map(\.comment).joined(separator: " ")
        #expect(history.contains("r2324580") && history.contains("saturated"), "\(history)")
        // And the wavelength solution is within the issue's 0.2 px, with lines below 3377 Å
        let ids = try #require(try database.products(type: .inverseDispersionModel).first)
        let wave = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: ids.id!).map { ($0.name, $0.value ?? .nan) })
        #expect(try #require(wave["rmsPixels"]) <= 0.2)
        #expect(try #require(wave["lineCoverageStart"]) < 3377)
        // And the pixel flat uses the two good flats and leaves a response ≈ 1 in the slit
        let pix = try #require(try database.products(type: .pixelFlat).first)
        let flat = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: pix.id!).map { ($0.name, $0.value ?? .nan) })
        #expect(flat["frameCount"] == 2 && flat["rejectedFrames"] == 1, "\(flat)")
        #expect(abs(try #require(flat["pixelResponseMedian"]) - 1) < 0.005, "\(flat)")
        #expect(try #require(flat["pixelResponseSigma"]) > 0.001 && flat["pixelResponseSigma"]! < 0.03, "\(flat)")
        #expect(try #require(flat["flaggedFraction"]) < 0.01, "\(flat)")
        // And the smooth model leaves no 64-row block of the slit off by more than 1.5 % (measured 0.58 %)
        #expect(try #require(flat["blockResidualMax"]) < 0.015, "\(flat)")
    }
}
