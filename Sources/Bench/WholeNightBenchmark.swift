import CalibCore
import Foundation
import Logging
import Pipeline
import Simulator

/// A whole simulated night of calibration frames, ingested and reduced end to end (`calibd --once`), both arms.
let wholeNightBenchmark = BenchmarkCase(
    name: "whole night end to end (calibd --once, 2 arms)", target: "≤ 30 s", targetSeconds: 30
) { directory, size in
    let simulator = try BenchmarkFrames.simulator()
    var plan = simulator.plan
    plan.blocks.removeAll { $0.kind == .science }
    let night = try NightSimulator(model: simulator.model, lines: simulator.lines, plan: plan)
        .simulate(into: directory + "/sim", night: ObservingNight("2026-11-21")!, seed: 3, size: size)
    let counter = Counter()
    return {
        let engine = try CalibrationEngine(
            configuration: try benchmarkConfiguration(raw: directory + "/sim/raw", workspace: directory + "/ws\(counter.next())"),
            logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
        let summary = try runSynchronously { try await engine.runBatch() }
        let products = try engine.database.products()
        return "\(night.files.count) frames, \(summary.jobsRun) jobs, \(products.filter(\.qcPassed).count)/\(products.count) products QC-passed"
    }
}

/// Runs async work to completion from synchronous benchmark code.
func runSynchronously<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) throws -> T {
    let box = ResultBox<T>()
    let done = DispatchSemaphore(value: 0)
    Task {
        do { box.result = .success(try await work()) } catch { box.result = .failure(error) }
        done.signal()
    }
    done.wait()
    return try box.result!.get()
}

final class ResultBox<T>: @unchecked Sendable { var result: Result<T, any Error>? }
