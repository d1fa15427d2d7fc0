import CalibCore
import FITS
import Foundation
import Recipes

/// The `mbias` recipe on files: σ-clipped master bias with level and read noise.
struct MasterBiasExecutor: RecipeExecutor {
    var name: String { MasterBias.name }
    var version: String { MasterBias.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try MasterBias(parameters: context.parameters)
        let stack = try context.frameStack(try context.inputPaths)
        let header = stack.headers[0]
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation, scienceColumns: context.profile.scienceColumns(of: header))
        let gain = try DetectorGeometry.gain(header: header, layout: context.profile.detector, path: stack.paths[0])
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
