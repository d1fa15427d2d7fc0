import CalibCore
import FITS
import Foundation
import Recipes

/// The `mbias` recipe on files: σ-clipped master bias with level and read noise.
struct MasterBiasExecutor: RecipeExecutor {
    var name: String { MasterBias.name }
    var version: String { MasterBias.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try MasterBias(parameters: context.spec.parameters)
        let stack = try FITSFrameStack(paths: try context.inputPaths, orientation: context.profile.orientation(of:))
        let header = stack.headers[0]
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        let gain = DetectorGeometry.gain(header: header, layout: context.profile.detector)
        context.logger.info("combining bias frames", metadata: [
            "frames": "\(stack.frameCount)", "size": "\(stack.width)x\(stack.height)",
            "science.columns": "\(regions.science)", "overscan.columns": "\(regions.overscan.map { "\($0)" } ?? "none")",
        ])
        let result = try recipe.run(stack, regions: regions, gain: gain)
        let mjd = context.inputs.compactMap(\.frame.mjdObs).reduce(0, +) / Double(max(context.inputs.count, 1))
        // Hot columns over the light-sensitive area, for the master flat's bad-pixel map.
        let scienceWidth = regions.science.count
        var flags = [UInt8](repeating: 0, count: scienceWidth * stack.height)
        for x in result.hotColumns { for y in 0..<stack.height { flags[y * scienceWidth + x] |= PixelFlag.badColumn } }
        return [ProductOutput(type: .masterBias, hdus: [.image(result.master, name: nil, header: FITSHeader()),
                                                        .flags(flags, width: scienceWidth, height: stack.height)],
                              metrics: result.metrics, mjd: mjd)]
    }
}

/// Reads detector geometry and gain through the profile's keywords.
enum DetectorGeometry {
    /// The light-sensitive and overscan columns of a frame `width` wide as the
    /// recipes see it (turned by `layout.orientation`). The header counts
    /// prescan columns at low x and overscan at high x of the frame as read
    /// out; a 180° turn or an x flip puts them at the other ends. An
    /// orientation that turns them into rows is refused: only columns are trimmed.
    ///
    /// Without pre/overscan counts in the header, `scienceColumns` (the
    /// profile's `detector.scienceColumns` for this frame, already binned) is the light-sensitive window.
    static func regions(width: Int, header: FITSHeader, layout: DetectorLayout,
                        orientation: FrameOrientation = .none, scienceColumns: Range<Int>? = nil) throws -> DetectorRegions {
        let overscan = layout.overscanColumnsKey.flatMap { header.int($0) }.map(Int.init) ?? 0
        let prescan = layout.prescanColumnsKey.flatMap { header.int($0) }.map(Int.init) ?? 0
        let scienceEnd = max(prescan, width - overscan)
        if orientation.swapsAxes, prescan > 0 || overscan > 0 {
            throw PipelineError.configuration("the frame is turned '\(orientation.rawValue)' but its header counts \(prescan) prescan and "
                                              + "\(overscan) overscan columns, which would become rows: only columns are trimmed")
        }
        var science = orientation.orientedColumns(prescan..<scienceEnd, width: width) ?? 0..<width
        let overscanColumns = overscan > 0 ? orientation.orientedColumns(scienceEnd..<width, width: width) : nil
        if prescan == 0, overscan == 0, let window = scienceColumns {
            guard window.upperBound <= width else {
                throw PipelineError.configuration("detector.scienceColumns \(window) reaches beyond the frame's \(width) columns")
            }
            science = window
        }
        return DetectorRegions(science: science, overscan: overscanColumns)
    }

    static func gain(header: FITSHeader, layout: DetectorLayout) -> Double {
        layout.gainKey.flatMap { header.double($0) } ?? layout.defaultGain ?? .nan
    }
}
