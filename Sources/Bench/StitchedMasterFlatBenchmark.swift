import CalibCore
import FITS
import Foundation
import Pipeline
import Recipes
import Simulator

/// Master flat of the BLUE arm stitched from 5 D2 and 5 QTH raw flats, including
/// reading them and the master bias and writing the product (stitched flat, error,
/// bad-pixel map, order table, per-lamp flats and tables, checksums). The
/// order-centre trace is made in preparation (not timed).
let stitchedMasterFlatBenchmark = BenchmarkCase(
    name: "master flat stitched, 5 D2 + 5 QTH frames (incl. I/O)", target: "≤ 3 s, ≤ 1 GB", targetSeconds: 3
) { directory, size in
    let simulator = try BenchmarkFrames.simulator()
    guard let model = simulator.model.arm(named: "BLUE"), let d2 = model.d2FlatLamp else { throw CocoaError(.fileNoSuchFile) }
    let arm = SimulatedArm(model: model, size: size, nightSeed: 1)
    let detector = SimulatedDetector(model: model, size: size, seed: 1)
    let renderer = FrameRenderer(arm: arm, detector: detector, lines: [])
    let tQ = model.flatLamp.referenceExposureSeconds, tD = d2.referenceExposureSeconds
    var paths: [String] = []
    for i in 0..<10 {
        let kind: ExposureKind = i < 5 ? .d2Flat(lampScale: 1) : .flat(lampScale: 1)
        let frame = renderer.render(kind, exposureTime: i < 5 ? tD : tQ, seed: UInt64(i + 1))
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
    let centres = try OrderTrace(parameters: ["referenceOrder": 25, "referenceOrderX": 0.5]).run(
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
        let result = try StitchedMasterFlat(parameters: ["stitchOrder": 25]).run(
            blue: source.subset(Array(0..<5)), blueExposureTimes: [Double](repeating: tD, count: 5),
            red: source.subset(Array(5..<10)), redExposureTimes: [Double](repeating: tQ, count: 5),
            lamps: LampStitch(blue: "D2", red: "QTH"), centres: centres, gain: gain, readNoise: readNoise)
        let stitched = result.stitched
        _ = try ProductWriter.write(path: "\(directory)/mflat.fits") { out in
            try out.writeImage(stitched.flat.pixels, width: size, height: size, header: FITSHeader())
            try out.writeImage(stitched.error.pixels, width: size, height: size, header: FITSHeader(), extensionName: "ERR")
            try out.writeImage(stitched.flags, width: size, height: size, header: FITSHeader(), extensionName: "BPM")
            try out.writeTable(OrderTableFile.table(stitched.geometry), extensionName: OrderTableFile.extensionName, header: FITSHeader())
            for lamp in [result.blue, result.red] {
                try out.writeImage(lamp.flat.pixels, width: size, height: size, header: FITSHeader(), extensionName: "FLAT_\(lamp.lamp)")
                try out.writeTable(OrderTableFile.table(lamp.geometry), extensionName: "ORDERS_\(lamp.lamp)", header: FITSHeader())
            }
        }
        let sd = stitched.metrics.first { $0.name == "edgeResidualSD" }!.value
        return String(format: "%d orders, scale %.4f, edge residual SD %.3f px", stitched.geometry.orders.count, result.scale, sd)
    }
}
