import CalibCore
import Foundation
import Recipes
import Simulator

/// Arc frames, maps and solutions for the dispersion benchmarks.
enum DispersionBenchmarkInputs {
    static func arm(size: Int, name: String = "RED") throws -> (arm: SimulatedArm, lines: [ArcLine], detector: SimulatedDetector) {
        let simulator = try BenchmarkFrames.simulator()
        guard let model = simulator.model.arm(named: name) else { throw CocoaError(.fileNoSuchFile) }
        return (SimulatedArm(model: model, size: size, nightSeed: 1), simulator.lines, SimulatedDetector(model: model, size: size, seed: 1))
    }

    /// A spatial solution fitted to the true positions of every map entry.
    static func spatialSolution(arm: SimulatedArm, lines: [ArcLine]) throws -> DispersionSolution {
        let map = arm.nominalPinholeMap(lines: lines)
        let points = map.entries.map { [Double($0.order), $0.wavelength, $0.slit] }
        let truth = map.entries.map { arm.position(order: $0.order, wavelength: $0.wavelength, slit: $0.slit) }
        let fx = try PolynomialSurfaceFit(degrees: [4, 5, 2], maxIterations: 1).fit(points: points, values: truth.map(\.x))
        let fy = try PolynomialSurfaceFit(degrees: [4, 5, 2], maxIterations: 1).fit(points: points, values: truth.map(\.y))
        var limits: [Int: ClosedRange<Double>] = [:]
        for n in arm.orders { limits[n] = arm.wavelengthRange(order: n) }
        return DispersionSolution(x: fx.surface, y: fy.surface, orders: arm.orders, wavelengthLimits: limits, slitRange: -4.5...4.5)
    }
}

/// Line finding (stamp, background, detection, Gaussian fit) on 5,000 stamps of a rendered pinhole arc,
/// centred where the recipe centres them: the static map corrected by the night's displacement model the
/// recipe measures first (`DispersionMapFit.nightShift`, not timed). The note gives the stamps by quality
/// and the RMS distance of the good ones from the simulator's true positions.
let lineFindingBenchmark = BenchmarkCase(
    name: "arc line finding, 5000 stamps", target: "≤ 50 µs per line (≤ 0.25 s)", targetSeconds: 0.25
) { _, size in
    let (arm, lines, detector) = try DispersionBenchmarkInputs.arm(size: size)
    let renderer = FrameRenderer(arm: arm, detector: detector, lines: lines)
    let raw = renderer.render(.arcSinglePinhole, exposureTime: 5, seed: 3)
    var image = Image(width: raw.width, height: raw.height, pixels: raw.pixels.map { Float($0) - Float(detector.truth.biasLevelADU) })
    image = image.cropped(x: 0..<size, y: 0..<size)
    let map = arm.nominalPinholeMap(lines: lines).centralPinhole
    let fit = try DispersionMapFit(recipe: "disp_solution", parameters: [:])
    let gain = detector.truth.gain
    let shift = fit.nightShift(image, entries: map.entries, binning: arm.binning, gain: gain)
    let entries = (0..<5000).map { map.entries[$0 % map.entries.count] }
    let predicted = entries.map { e -> (x: Double, y: Double) in
        let o = shift?.offset(x: e.x, y: e.y) ?? (dx: 0, dy: 0)
        return (e.x + o.dx, e.y + o.dy)
    }
    let truth = entries.map { arm.position(order: $0.order, wavelength: $0.wavelength, slit: 0) }
    let locator = fit.locator(binning: arm.binning, halfWidth: fit.stampHalfWidth, gain: gain, columns: nil,
                              predictionsCorrected: shift != nil)
    let frame = image
    return {
        let found = locator.locateAll(frame, at: predicted)
        var counts: [LineQuality: Int] = [:]
        var squares = 0.0
        for (m, t) in zip(found, truth) {
            counts[m.quality, default: 0] += 1
            if m.quality == .good { squares += (m.x - t.x) * (m.x - t.x) + (m.y - t.y) * (m.y - t.y) }
        }
        let good = counts[.good] ?? 0
        let others = LineQuality.allCases.filter { $0 != .good && counts[$0] != nil }.map { "\($0) \(counts[$0]!)" }
        return "\(good) of 5000 good (\(map.entries.count) distinct lines; \(others.joined(separator: ", "))), "
            + String(format: "rms vs truth %.4f px", (squares / Double(max(good, 1))).squareRoot())
    }
}

/// The X and Y dispersion polynomials (degrees 4, 5) fitted with iterative 3σ clipping.
let dispersionFitBenchmark = BenchmarkCase(
    name: "dispersion polynomial fit with clipping", target: "≤ 0.1 s", targetSeconds: 0.1
) { _, size in
    let (arm, lines, _) = try DispersionBenchmarkInputs.arm(size: size)
    let map = arm.nominalPinholeMap(lines: lines).centralPinhole
    var rng = SystemRandomNumberGenerator()
    let points = map.entries.map { [Double($0.order), $0.wavelength] }
    // Truth plus 0.01 px noise, with 5 % of the lines thrown 1–5 px off.
    let xs = map.entries.map { e -> Double in
        arm.position(order: e.order, wavelength: e.wavelength, slit: 0).x + Double.random(in: -0.017...0.017, using: &rng)
            + (Double.random(in: 0..<1, using: &rng) < 0.05 ? Double.random(in: 1...5, using: &rng) : 0)
    }
    let ys = map.entries.map { arm.position(order: $0.order, wavelength: $0.wavelength, slit: 0).y }
    return {
        let fitter = PolynomialSurfaceFit(degrees: [4, 5], clipSigma: 3, maxIterations: 10)
        let fx = try fitter.fit(points: points, values: xs)
        let fy = try fitter.fit(points: points, values: ys)
        return "\(points.count) lines, \(fx.clipped.filter { $0 }.count) clipped, rms \(String(format: "%.4f", fx.rms)) / \(String(format: "%.2g", fy.rms)) px"
    }
}

/// The wavelength/slit/order image map of a 4096² detector from a spatial solution.
let dispersionImageBenchmark = BenchmarkCase(
    name: "2D wavelength/slit/order map, 4096²", target: "≤ 2 s", targetSeconds: 2
) { _, _ in
    let (arm, lines, _) = try DispersionBenchmarkInputs.arm(size: 4096)
    let solution = try DispersionBenchmarkInputs.spatialSolution(arm: arm, lines: lines)
    return {
        let map = DispersionImageMap.compute(solution, width: 4096, height: 4096, slitRange: -5.5...5.5)
        let inside = map.order.pixels.filter { $0 > 0 }.count
        return String(format: "%.1f %% of pixels in orders", 100 * Double(inside) / Double(4096 * 4096))
    }
}
