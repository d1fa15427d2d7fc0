import CalibCore
import FITS
import Foundation
import Pipeline
import Recipes
import Simulator

/// Master flat on 5 raw flats, including reading them and the master bias and
/// writing the product (flat, error, bad-pixel map, order table, checksums).
/// The order-centre trace is made in preparation (not timed).
let masterFlatBenchmark = BenchmarkCase(
    name: "master flat, 5 frames (incl. I/O)", target: "≤ 1 s, ≤ 600 MB", targetSeconds: 1
) { directory, size in
    var t = 0.0
    let prepared = try FlatBenchmarkFrames(directory: directory, size: size, arm: "RED", referenceOrder: 21) { _, model in
        t = model.flatLamp.referenceExposureSeconds
        return [(kind: ExposureKind, exposureTime: Double)](repeating: (.flat(lampScale: 1), t), count: 5)
    }
    let (flatPaths, biasPath, centres, rawWidth) = (prepared.flatPaths, prepared.biasPath, prepared.centres, prepared.rawWidth)
    let (gain, readNoise, exposure) = (prepared.gain, prepared.readNoise, t)
    return {
        let stack = try FITSFrameStack(paths: flatPaths)
        let file = try FITSFile.open(biasPath)
        let master = Image(width: rawWidth, height: size, pixels: try file.readImage(as: Float.self))
        try file.close()
        let source = CorrectedFrames(stack, subtracting: master, columns: 0..<size)
        let result = try MasterFlat(parameters: [:]).run(source, exposureTimes: [Double](repeating: exposure, count: 5), centres: centres,
                                                         gain: gain, readNoise: readNoise)
        _ = try ProductWriter.write(path: "\(directory)/mflat.fits") { out in
            try out.writeImage(result.flat.pixels, width: size, height: size, header: FITSHeader())
            try out.writeImage(result.error.pixels, width: size, height: size, header: FITSHeader(), extensionName: "ERR")
            try out.writeImage(result.flags, width: size, height: size, header: FITSHeader(), extensionName: "BPM")
            try out.writeTable(OrderTableFile.table(result.geometry), extensionName: OrderTableFile.extensionName, header: FITSHeader())
        }
        let sd = result.metrics.first { $0.name == "edgeResidualSD" }!.value
        return String(format: "%d orders, edge residual SD %.3f px", result.geometry.orders.count, sd)
    }
}
