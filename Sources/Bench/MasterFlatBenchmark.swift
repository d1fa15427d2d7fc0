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
    let simulator = try BenchmarkFrames.simulator()
    guard let model = simulator.model.arm(named: "RED") else { throw CocoaError(.fileNoSuchFile) }
    let arm = SimulatedArm(model: model, size: size, nightSeed: 1)
    let detector = SimulatedDetector(model: model, size: size, seed: 1)
    let renderer = FrameRenderer(arm: arm, detector: detector, lines: [])
    let t = model.flatLamp.referenceExposureSeconds
    var paths: [String] = []
    for i in 0..<5 {
        let frame = renderer.render(.flat(lampScale: 1), exposureTime: t, seed: UInt64(i + 1))
        let path = "\(directory)/flat\(i).fits"
        let file = try FITSFile.create(path, overwrite: true)
        try file.writeImage(frame.pixels, width: frame.width, height: frame.height)
        try file.close()
        paths.append(path)
    }
    var bias = [Float](repeating: Float(detector.truth.biasLevelADU), count: arm.rawWidth * size)
    for y in 0..<size { for x in 0..<size { bias[y * arm.rawWidth + x] += detector.truth.biasPattern[y * size + x] } }
    let biasPath = "\(directory)/mbias.fits"
    let biasFile = try FITSFile.create(biasPath, overwrite: true)
    try biasFile.writeImage(bias, width: arm.rawWidth, height: size)
    try biasFile.close()
    let od = renderer.render(.orderDefinition, exposureTime: model.orderDefinitionLamp.referenceExposureSeconds, seed: 9)
    var odPixels = [Float](repeating: 0, count: size * size)
    for y in 0..<size { for x in 0..<size { odPixels[y * size + x] = Float(od.pixels[y * od.width + x]) - bias[y * arm.rawWidth + x] } }
    let centres = try OrderTrace(parameters: ["referenceOrder": 21, "referenceOrderX": 0.5]).run(
        Image(width: size, height: size, pixels: odPixels)).geometry
    let rawWidth = arm.rawWidth
    let flatPaths = paths
    let gain = detector.truth.gain, readNoise = detector.truth.readNoiseADU
    return {
        let stack = try FITSFrameStack(paths: flatPaths)
        let file = try FITSFile.open(biasPath)
        let master = Image(width: rawWidth, height: size, pixels: try file.readImage(as: Float.self))
        try file.close()
        let source = CorrectedFrames(stack, subtracting: master, columns: 0..<size)
        let result = try MasterFlat(parameters: [:]).run(source, exposureTimes: [Double](repeating: t, count: 5), centres: centres,
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
