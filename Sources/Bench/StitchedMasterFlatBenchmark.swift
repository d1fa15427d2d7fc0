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
    var tQ = 0.0, tD = 0.0
    let prepared = try FlatBenchmarkFrames(directory: directory, size: size, arm: "BLUE", referenceOrder: 25) { _, model in
        guard let d2 = model.d2FlatLamp else { throw CocoaError(.fileNoSuchFile) }
        tQ = model.flatLamp.referenceExposureSeconds; tD = d2.referenceExposureSeconds
        return [(kind: ExposureKind, exposureTime: Double)](repeating: (.d2Flat(lampScale: 1), tD), count: 5)
            + [(kind: ExposureKind, exposureTime: Double)](repeating: (.flat(lampScale: 1), tQ), count: 5)
    }
    let (flatPaths, biasPath, centres, rawWidth) = (prepared.flatPaths, prepared.biasPath, prepared.centres, prepared.rawWidth)
    let (gain, readNoise, blueTime, redTime) = (prepared.gain, prepared.readNoise, tD, tQ)
    return {
        let stack = try FITSFrameStack(paths: flatPaths)
        let file = try FITSFile.open(biasPath)
        let master = Image(width: rawWidth, height: size, pixels: try file.readImage(as: Float.self))
        try file.close()
        let source = CorrectedFrames(stack, subtracting: master, columns: 0..<size)
        let result = try StitchedMasterFlat(parameters: ["stitchOrder": 25]).run(
            blue: source.subset(Array(0..<5)), blueExposureTimes: [Double](repeating: blueTime, count: 5),
            red: source.subset(Array(5..<10)), redExposureTimes: [Double](repeating: redTime, count: 5),
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
