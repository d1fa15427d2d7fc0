import CalibCore
import CalibDB
import Foundation
import Testing

/// A real Kast blue calibration set (3 biases, 2 dome flats, the Cd/Hg/He arc) reduced by
/// `calibd --once` with the kast profile: classification from lamp status and exposure time,
/// the transposed frames, and the long-slit chain MBIAS → CRV_MODEL → IDS_MODEL.
@Suite("End to end: real Kast blue long-slit calibrations", .serialized)
struct KastBlueEndToEndTests {
    @Test("calibd --once on real Kast blue frames makes MBIAS, CRV_MODEL, IDS_MODEL and PIXEL_FLAT with QC passed, figures as PypeIt's")
    func kastNight() throws {
        // Given the raw Kast frames as the telescope wrote them, in a watched directory
        let ws = try TestWorkspace()
        defer { ws.remove() }
        for path in KastBlueFrames.biases + KastBlueFrames.flats + [KastBlueFrames.arc] {
            try FileManager.default.copyItem(atPath: path, toPath: ws.raw + "/" + (path as NSString).lastPathComponent)
        }
        // When calibd reduces them once
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        // And the night is complete: no job failed and none waits for frames the night does not have
        #expect(run.status == 0 && run.stdout.contains("night 2015-05-19 complete: 4/4 products QC-passed, 0 missing"), "\(run.stdout)")
        // Then every frame is a KAST frame of the expected type
        let database = try CalibrationDatabase(path: ws.database)
        let frames = try database.frames()
        #expect(frames.count == 6 && frames.allSatisfy { $0.frame.instrument == "KAST" && $0.frame.problem == nil },
                "\(frames.map { "\($0.frame.path) \($0.frame.instrument ?? "-") \($0.frame.problem ?? "")" })")
        #expect(frames.filter { $0.frame.frameType == .bias }.count == 3)
        #expect(frames.filter { $0.frame.frameType == .flat }.count == 2)
        #expect(frames.filter { $0.frame.frameType == .arcSlit }.count == 1)
        // And one product of each type, QC passed
        for type in [ProductType.masterBias, .curvatureModel, .inverseDispersionModel, .pixelFlat] {
            let products = try database.products(type: type)
            #expect(products.count == 1 && products.allSatisfy(\.qcPassed), "\(type.rawValue): \(products.map { "\($0.setup) \($0.qcPassed)" })")
        }
        // And the figures are PypeIt's within the recipe tests' tolerances
        func metrics(_ type: ProductType) throws -> [String: Double] {
            let product = try #require(try database.products(type: type).first)
            return Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: product.id!).map { ($0.name, $0.value ?? .nan) })
        }
        let edges = try metrics(.curvatureModel)
        #expect(abs(try #require(edges["illuminatedLeftEdge"]) - 23.0) < 1)
        #expect(abs(try #require(edges["illuminatedRightEdge"]) - 326.1) < 1)
        let wave = try metrics(.inverseDispersionModel)
        #expect(try #require(wave["linesUsed"]) >= 25, "\(wave)")
        #expect(try #require(wave["rmsPixels"]) <= 0.05, "\(wave)")
        #expect(abs(try #require(wave["wavelengthStart"]) - 3428) < 2)
        #expect(abs(try #require(wave["wavelengthEnd"]) - 5516) < 2)
        #expect(try #require(wave["tiltRMS"]) < 0.05)
        // And the pixel flat leaves the CCD's pixel-to-pixel response: ≈ 1 in the slit, a PRNU of about 1 %
        let flat = try metrics(.pixelFlat)
        #expect(abs(try #require(flat["pixelResponseMedian"]) - 1) < 0.005, "\(flat)")
        #expect(try #require(flat["pixelResponseSigma"]) > 0.001 && flat["pixelResponseSigma"]! < 0.03, "\(flat)")
        #expect(try #require(flat["flaggedFraction"]) < 0.01, "\(flat)")
        #expect(flat["frameCount"] == 2, "\(flat)")
        // And the lamp spectrum and the wavelength-dependent slit illumination are divided out: no 64-row block off 1 by 1 %
        #expect(try #require(flat["blockResidualMax"]) < 0.01, "\(flat)")
    }
}
