import CalibCore
import FITS
import Foundation
import Pipeline
import Recipes

/// The vendored WHT/ISIS blue frames (Tests/Fixtures/isis_blue, cropped to 200 columns), bias
/// subtracted; already in calibd's orientation. Rows 0…4098 hold light (TRIMSEC).
enum IsisBlueFrames {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/isis_blue").path
    static let biases = ["r2324594", "r2324596"].map { directory + "/\($0).fit.gz" }
    /// The saturated 4 s flat first, then two good 1.5 s flats.
    static let flats = ["r2324580", "r2324582", "r2324583"].map { directory + "/\($0).fit.gz" }
    static let arc = directory + "/r2324566.fit.gz"
    static let lightRows = 0...4098

    struct Calibrated {
        var bias: Image
        var arc: Image
        var flatStack: FITSFrameStack
    }

    static func load() throws -> Calibrated {
        let biasStack = try FITSFrameStack(paths: biases)
        let bias = try SigmaClippedStack(sigma: 3, iterations: 3).combine(biasStack).image
        let arcStack = try FITSFrameStack(paths: [arc])
        let arc = try SigmaClippedStack(sigma: 3, iterations: 3)
            .combine(CorrectedFrames(arcStack, subtracting: bias, columns: 0..<arcStack.width)).image
        return Calibrated(bias: bias, arc: arc, flatStack: try FITSFrameStack(paths: flats))
    }

    /// Cu I, Ne I, Ar I and Ar II, as the profile's static list.
    static func catalog() throws -> LineCatalog {
        let path = TestWorkspace.repositoryConfig + "/static/ISIS_Blue_arm_arc_lines.dat"
        return try LineCatalog.parse(String(contentsOfFile: path, encoding: .utf8), source: path)
    }
}
