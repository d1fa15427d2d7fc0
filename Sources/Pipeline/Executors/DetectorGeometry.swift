import CalibCore
import FITS
import Recipes

/// Reads detector geometry, gain and binning through the profile's keywords for the recipes,
/// checking each value again although ingest did (the file may have been replaced since): a
/// bad value fails the job once, naming the file and keyword, instead of trapping.
enum DetectorGeometry {
    /// The light-sensitive and overscan columns of a frame `width` wide as the
    /// recipes see it (turned by `orientation`). The header counts prescan
    /// columns at low x and overscan at high x of the frame as read out; a 180°
    /// turn or an x flip puts them at the other ends. An orientation that turns
    /// them into rows is refused: only columns are trimmed.
    ///
    /// Without pre/overscan counts in the header, `scienceColumns` (the
    /// profile's `detector.scienceColumns` for this frame, already binned) is the light-sensitive window.
    static func regions(width: Int, header: FITSHeader, layout: DetectorLayout, path: String,
                        orientation: FrameOrientation = .none, scienceColumns: Range<Int>? = nil) throws -> DetectorRegions {
        let windows: DetectorWindows
        switch DetectorWindows.read(header, layout: layout, width: width) {
        case .failure(let problem): throw InputHeaderError(path: path, problem: problem)
        case .success(let read): windows = read
        }
        if orientation.swapsAxes, windows.prescan > 0 || windows.overscan > 0 {
            throw PipelineError.configuration("the frame is turned '\(orientation.rawValue)' but its header counts \(windows.prescan) prescan and "
                                              + "\(windows.overscan) overscan columns, which would become rows: only columns are trimmed")
        }
        var science = orientation.orientedColumns(windows.science, width: width) ?? 0..<width
        let overscanColumns = windows.overscanColumns.flatMap { orientation.orientedColumns($0, width: width) }
        if windows.prescan == 0, windows.overscan == 0, let window = scienceColumns {
            guard window.lowerBound >= 0, window.upperBound <= width, !window.isEmpty else {
                throw PipelineError.configuration("detector.scienceColumns \(window) is not within the frame's \(width) columns")
            }
            science = window
        }
        return DetectorRegions(science: science, overscan: overscanColumns)
    }

    /// Gain, e⁻/ADU; NaN when neither the header nor the profile gives one.
    static func gain(header: FITSHeader, layout: DetectorLayout, path: String) throws -> Double {
        switch HeaderValidation.gain(header, layout: layout) {
        case .failure(let problem): throw InputHeaderError(path: path, problem: problem)
        case .success(let gain): return gain
        }
    }

    /// The binning factor of setup key `name` (`binx` or `biny`), 1 when the frame does not say.
    static func binning(header: FITSHeader, profile: InstrumentProfile, path: String, name: String = "binx") throws -> Int {
        switch HeaderValidation.binning(header, profile: profile, name: name) {
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
