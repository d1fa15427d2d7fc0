import CalibCore
import FITS
import Foundation
import Pipeline
import Recipes
import Simulator

/// Master bias on 5 raw frames, including reading them from disk.
let masterBiasBenchmark = BenchmarkCase(
    name: "master bias, 5 frames (incl. I/O)", target: "≤ 1 s", targetSeconds: 1
) { directory, size in
    let paths = try BenchmarkFrames.write(.bias, count: 5, exposureTime: 0, size: size, into: directory)
    return {
        let recipe = try MasterBias(parameters: [:])
        let stack = try FITSFrameStack(paths: paths)
        let result = try recipe.run(stack, regions: DetectorRegions(science: 0..<size, overscan: size..<stack.width))
        return String(format: "read noise %.3f ADU", result.metrics.first { $0.name == "readNoiseADU" }!.value)
    }
}


/// Simulated raw frames on disk for benchmarks.
enum BenchmarkFrames {
    static let configDirectory: String = {
        if let dir = ProcessInfo.processInfo.environment["CALIBD_CONFIG_DIR"] { return dir }
        return FileManager.default.currentDirectoryPath + "/config"
    }()

    static func simulator() throws -> NightSimulator {
        try NightSimulator(modelPath: configDirectory + "/simulator/simechelle.yaml",
                           lineListPath: configDirectory + "/linelists/thar_nist_pypeit.dat")
    }

    static func write(_ kind: ExposureKind, count: Int, exposureTime: Double, size: Int, into directory: String,
                      arm: String = "RED") throws -> [String] {
        let simulator = try simulator()
        guard let model = simulator.model.arm(named: arm) else { throw CocoaError(.fileNoSuchFile) }
        let simulatedArm = SimulatedArm(model: model, size: size, nightSeed: 1)
        let renderer = FrameRenderer(arm: simulatedArm, detector: SimulatedDetector(model: model, size: size, seed: 1),
                                     lines: simulator.lines)
        return try (0..<count).map { i in
            let frame = renderer.render(kind, exposureTime: exposureTime, seed: UInt64(i + 1))
            let path = "\(directory)/frame\(i).fits"
            let file = try FITSFile.create(path, overwrite: true)
            try file.writeImage(frame.pixels, width: frame.width, height: frame.height)
            try file.close()
            return path
        }
    }
}

