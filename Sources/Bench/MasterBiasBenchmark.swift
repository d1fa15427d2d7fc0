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
    /// Where a run looks for the configuration directory: `$CALIBD_CONFIG_DIR`,
    /// `./config` (a checkout), the checkout holding this binary
    /// (`.build/release/calib-bench` → `config/`), and an installed tree
    /// (`PREFIX/bin/calib-bench` → `PREFIX/share/calibd/config`).
    static var searchPath: [String] {
        var list: [String] = []
        if let dir = ProcessInfo.processInfo.environment["CALIBD_CONFIG_DIR"], !dir.isEmpty { list.append(dir) }
        list.append(FileManager.default.currentDirectoryPath + "/config")
        let binary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
        list.append(binary.appendingPathComponent("../../config").standardizedFileURL.path)
        list.append(binary.appendingPathComponent("../../../config").standardizedFileURL.path)
        list.append(binary.appendingPathComponent("../share/calibd/config").standardizedFileURL.path)
        return list.reduce(into: []) { unique, path in if !unique.contains(path) { unique.append(path) } }
    }

    static let locatedConfigDirectory: String? = searchPath.first {
        FileManager.default.fileExists(atPath: $0 + "/simulator/simechelle.yaml")
    }

    static let configDirectory: String = locatedConfigDirectory ?? FileManager.default.currentDirectoryPath + "/config"

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

