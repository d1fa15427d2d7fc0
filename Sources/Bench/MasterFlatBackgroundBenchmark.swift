import CalibCore
import Dispatch
import Foundation
import Recipes
import Simulator

/// What the intra-order background adds to the master flat: the recipe on 5
/// in-memory flats with 2 % scattered light, run with `subtractBackground` 0
/// and 1; the figure is the difference (the background fit itself, the first
/// edge pass that masks the orders, and the second edge detection), the note
/// gives both runs and the fit alone.
let masterFlatBackgroundBenchmark = BenchmarkCase(
    name: "master flat background (added time)", target: "≤ 0.5 s", targetSeconds: 0.5
) { _, size in
    let simulator = try BenchmarkFrames.simulator()
    guard var model = simulator.model.arm(named: "RED") else { throw CocoaError(.fileNoSuchFile) }
    model.scatteredLight = ScatteredLightModel(fraction: 0.02, centreX: 0.55, centreY: 0.45, widthX: 0.6, widthY: 0.8)
    let arm = SimulatedArm(model: model, size: size, nightSeed: 1)
    let detector = SimulatedDetector(model: model, size: size, seed: 1)
    let renderer = FrameRenderer(arm: arm, detector: detector, lines: [])
    let t = model.flatLamp.referenceExposureSeconds
    let frames = (0..<5).map { i in
        let frame = renderer.render(.flat(lampScale: 1), exposureTime: t, seed: UInt64(i + 1))
        return Image(width: frame.width, height: frame.height, pixels: frame.pixels.map(Float.init))
    }
    var bias = Image(width: arm.rawWidth, height: size, value: Float(detector.truth.biasLevelADU))
    for y in 0..<size { for x in 0..<size { bias[x, y] += detector.truth.biasPattern[y * size + x] } }
    let od = renderer.render(.orderDefinition, exposureTime: model.orderDefinitionLamp.referenceExposureSeconds, seed: 9)
    var odPixels = [Float](repeating: 0, count: size * size)
    for y in 0..<size { for x in 0..<size { odPixels[y * size + x] = Float(od.pixels[y * od.width + x]) - bias[x, y] } }
    let centres = try OrderTrace(parameters: ["referenceOrder": 21, "referenceOrderX": 0.5]).run(
        Image(width: size, height: size, pixels: odPixels)).geometry
    let gain = detector.truth.gain, readNoise = detector.truth.readNoiseADU
    let master = bias
    return {
        func run(_ parameters: [String: Double]) throws -> (MasterFlat.Result, Double) {
            let source = CorrectedFrames(InMemoryFrames(frames), subtracting: master, columns: 0..<size)
            let start = DispatchTime.now().uptimeNanoseconds
            let result = try MasterFlat(parameters: parameters).run(source, exposureTimes: [Double](repeating: t, count: 5),
                                                                    centres: centres, gain: gain, readNoise: readNoise)
            return (result, Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        let (plain, off) = try run(["subtractBackground": 0])
        let (_, on) = try run(["subtractBackground": 1])
        let start = DispatchTime.now().uptimeNanoseconds
        _ = IntraOrderBackground(margin: 3.7 * Double(size) / 1024).fit(plain.combined, geometry: plain.geometry)
        let fitOnly = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        return String(format: "=%.4f in memory: off %.3f s, on %.3f s; fit alone %.3f s", on - off, off, on, fitOnly)
    }
}
