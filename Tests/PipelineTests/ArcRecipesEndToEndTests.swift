import CalibCore
import CalibDB
import FITS
import Foundation
import FoundationXML
import Testing

/// The arc recipes in the simulated night, run by the daemon: pinhole arc →
/// DISP_MAP, multi-pinhole arc → DISP_IMAGE, lamp → LAMP_FLUX, each with its
/// QC in the database, its plots beside it, and the lamp's history in calibctl.
@Suite("End to end: arc frames to dispersion maps and lamp fluxes", .serialized)
struct ArcRecipesEndToEndTests {
    @Test("calibd --once on two simulated 1024² nights makes DISP_MAP, DISP_IMAGE and LAMP_FLUX with passing QC and plots, and calibctl lamp-flux follows the lamp")
    func arcProducts() throws {
        // Given: two nights of the RED arm at 4×4 binning (pinholes resolved as the instrument intends).
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(night: "2026-11-21", size: 1024, arms: "RED")
        try ws.simulate(night: "2026-11-22", size: 1024, arms: "RED", seed: 6)
        // When
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        // Then: per night one of each arc product, QC recorded and passed, the file complete and its plots beside it.
        let database = try CalibrationDatabase(path: ws.database)
        #expect(try database.jobs(states: [.running, .queued]).isEmpty)
        for type in [ProductType.dispersionMap, .dispersionImage, .lampFlux] {
            let products = try database.products(type: type)
            #expect(Set(products.map(\.night)) == ["2026-11-21", "2026-11-22"], "\(type.rawValue): \(products.map(\.night))")
            for product in products {
                let metrics = try database.metrics(ofProduct: product.id!)
                #expect(!metrics.isEmpty && product.qcPassed,
                        "\(type.rawValue) \(product.night) QC: \(metrics.filter { !$0.passed }.map { "\($0.name)=\($0.value ?? .nan)" })")
                let file = try FITSFile.open(product.path)
                #expect(try file.verifyChecksums().values.allSatisfy { $0 })
                try file.close()
                guard type != .lampFlux else { continue }
                let stem = (product.path as NSString).deletingPathExtension
                for suffix in ["_residuals_wavelength.svg", "_residuals_order.svg", "_lines.svg"] {
                    let svg = try Data(contentsOf: URL(fileURLWithPath: stem + suffix))
                    #expect(XMLParser(data: svg).parse(), "\(stem + suffix) is not well-formed")
                }
            }
        }
        // The dispersion solution's own figures, in the database.
        let dispersion = try #require(try database.products(type: .dispersionMap).first)
        let qc = Dictionary(uniqueKeysWithValues: try database.metrics(ofProduct: dispersion.id!).map { ($0.name, $0.value ?? .nan) })
        // SIMECH ships a nominal model: the solution is it plus a fitted correction, and the product says so.
        let dispersionFile = try FITSFile.open(dispersion.path)
        try dispersionFile.moveTo(extensionName: "DISP_MAP")
        let fitMode = try dispersionFile.readHeader().string("FITMODE")
        try dispersionFile.close()
        #expect(fitMode?.hasPrefix("nominal+correction") == true, "FITMODE \(fitMode ?? "missing")")
        // The map holds lines down to peak SNR ~8 (centres good to ±0.05 px), weighted in the fit
        // by their errors; their residuals widen the plain SDs SOXSPIPE reports, not the median.
        #expect(try #require(qc["residualXYMedian"]) < 0.03, "\(qc)")
        #expect(try #require(qc["residualXSD"]) < 0.08 && (try #require(qc["residualYSD"])) < 0.08, "\(qc)")

        // And the lamp's history across the two nights: same lamp, same fluxes within a few per cent.
        let history = try #require(try ws.json(["lamp-flux", "--setup", "arm=RED"]) as? [String: Any])
        let nights = try #require(history["nights"] as? [[String: Any]])
        #expect(nights.map { $0["night"] as? String } == ["2026-11-21", "2026-11-22"])
        let change = try #require(nights.last?["medianChange"] as? Double, "no line shared by the two nights")
        #expect(abs(change) < 0.03, "lamp flux changed by \(change) between two nights of the same simulated lamp")
        let text = try ws.calibctl(["lamp-flux", "--setup", "arm=RED", "--lines", "5"])
        #expect(text.status == 0 && text.stdout.contains("change vs first"), "\(text.stdout) \(text.stderr)")
        #expect(try ws.calibctl(["lamp-flux", "--setup", "arm=BLUE"]).status != 0)
    }
}
