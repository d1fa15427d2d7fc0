import CalibCore
import FITS
import Recipes

/// Reads detector geometry, gain and binning through the profile's keywords for the recipes,
/// checking each value again although ingest did (the file may have been replaced since): a
/// bad value fails the job once, naming the file and keyword, instead of trapping.
enum DetectorGeometry {
    static func regions(width: Int, header: FITSHeader, layout: DetectorLayout, path: String) throws -> DetectorRegions {
        switch DetectorWindows.read(header, layout: layout, width: width) {
        case .failure(let problem): throw InputHeaderError(path: path, problem: problem)
        case .success(let windows): return DetectorRegions(science: windows.science, overscan: windows.overscanColumns)
        }
    }

    /// Gain, e⁻/ADU; NaN when neither the header nor the profile gives one.
    static func gain(header: FITSHeader, layout: DetectorLayout, path: String) throws -> Double {
        switch HeaderValidation.gain(header, layout: layout) {
        case .failure(let problem): throw InputHeaderError(path: path, problem: problem)
        case .success(let gain): return gain
        }
    }

    /// The `binx` binning factor, 1 when the frame does not say.
    static func binning(header: FITSHeader, profile: InstrumentProfile, path: String) throws -> Int {
        switch HeaderValidation.binning(header, profile: profile, name: "binx") {
        case .failure(let problem): throw InputHeaderError(path: path, problem: problem)
        case .success(let factor): return factor ?? 1
        }
    }
}

/// An input frame's header holds a value a recipe cannot use. The same file gives the same
/// answer every time, so the job fails at once rather than being retried.
struct InputHeaderError: Error, PermanentRecipeFailure, CustomStringConvertible {
    let path: String
    let problem: HeaderValueProblem

    var description: String { "input frame \(path): \(problem.description)" }
}
