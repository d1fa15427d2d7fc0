import CalibCore
import FITS
import Foundation
import Recipes
import Simulator

/// The prepared (untimed) part of the master-flat benchmarks: raw flats of
/// the given kinds written to `directory`, a master bias from the detector's
/// truth, and the order-centre trace of an order-definition frame.
struct FlatBenchmarkFrames {
    var flatPaths: [String]
    var biasPath: String
    var centres: OrderGeometry
    var rawWidth: Int
    var gain: Double
    var readNoise: Double

    init(directory: String, size: Int, arm armName: String, referenceOrder: Int,
         frames: (SimulatedArm, EchelleArmModel) throws -> [(kind: ExposureKind, exposureTime: Double)]) throws {
        let simulator = try BenchmarkFrames.simulator()
        guard let model = simulator.model.arm(named: armName) else { throw CocoaError(.fileNoSuchFile) }
        let arm = SimulatedArm(model: model, size: size, nightSeed: 1)
        let detector = SimulatedDetector(model: model, size: size, seed: 1)
        let renderer = FrameRenderer(arm: arm, detector: detector, lines: [])
        var paths: [String] = []
        for (i, frame) in try frames(arm, model).enumerated() {
            let raw = renderer.render(frame.kind, exposureTime: frame.exposureTime, seed: UInt64(i + 1))
            let path = "\(directory)/flat\(i).fits"
            let file = try FITSFile.create(path, overwrite: true)
            try file.writeImage(raw.pixels, width: raw.width, height: raw.height)
            try file.close()
            paths.append(path)
        }
        var bias = [Float](repeating: Float(detector.truth.biasLevelADU), count: arm.rawWidth * size)
        for y in 0..<size { for x in 0..<size { bias[y * arm.rawWidth + x] += detector.truth.biasPattern[y * size + x] } }
        biasPath = "\(directory)/mbias.fits"
        let biasFile = try FITSFile.create(biasPath, overwrite: true)
        try biasFile.writeImage(bias, width: arm.rawWidth, height: size)
        try biasFile.close()
        let od = renderer.render(.orderDefinition, exposureTime: model.orderDefinitionLamp.referenceExposureSeconds, seed: 9)
        var odPixels = [Float](repeating: 0, count: size * size)
        for y in 0..<size { for x in 0..<size { odPixels[y * size + x] = Float(od.pixels[y * od.width + x]) - bias[y * arm.rawWidth + x] } }
        centres = try OrderTrace(parameters: ["referenceOrder": Double(referenceOrder), "referenceOrderX": 0.5]).run(
            Image(width: size, height: size, pixels: odPixels)).geometry
        flatPaths = paths
        rawWidth = arm.rawWidth
        gain = detector.truth.gain
        readNoise = detector.truth.readNoiseADU
    }
}
