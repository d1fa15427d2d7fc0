import CalibCore
import FITS
import Foundation
import Pipeline
import Recipes

/// The vendored Shane/Kast blue frames (Tests/Fixtures/kast_blue), bias-subtracted and turned
/// to calibd's orientation (x along the slit, y = dispersion) as the kast profile turns them.
/// Rows 2048… of the turned frame are the 64 overscan columns of the raw frame.
enum KastBlueFrames {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/kast_blue").path
    static let biases = ["b14", "b15", "b16"].map { directory + "/\($0).fits.gz" }
    static let flats = ["b3", "b4"].map { directory + "/\($0).fits.gz" }
    static let arc = directory + "/b1.fits.gz"
    /// Light-sensitive rows of the turned frame (raw DATASEC [1:2048,1:350]).
    static let lightRows = 0...2047

    struct Calibrated {
        var bias: Image
        var flat: Image
        var arc: Image
    }

    static func load() throws -> Calibrated {
        let turn: (FITSHeader) -> FrameOrientation = { _ in .transpose }
        let biasStack = try FITSFrameStack(paths: biases, orientation: turn)
        let bias = try SigmaClippedStack(sigma: 3, iterations: 3).combine(biasStack).image
        let flatStack = try FITSFrameStack(paths: flats, orientation: turn)
        let flat = try SigmaClippedStack(sigma: 3, iterations: 3)
            .combine(CorrectedFrames(flatStack, subtracting: bias, columns: 0..<flatStack.width)).image
        let arcStack = try FITSFrameStack(paths: [arc], orientation: turn)
        let arc = try SigmaClippedStack(sigma: 3, iterations: 3)
            .combine(CorrectedFrames(arcStack, subtracting: bias, columns: 0..<arcStack.width)).image
        return Calibrated(bias: bias, flat: flat, arc: arc)
    }

    /// The Cd, Hg and He lines of the lamps that were on (F: He, G: Hg-Cd), as the kast profile
    /// uses them: PypeIt's lists plus the NIST lines they lack (config/static/KAST_kastb_arc_lines.dat).
    static func catalog() throws -> LineCatalog {
        try LineCatalog.parse(String(contentsOfFile: TestWorkspace.repositoryConfig + "/static/KAST_kastb_arc_lines.dat", encoding: .utf8),
                              source: "KAST_kastb_arc_lines.dat")
    }
}
