import CalibCore
import Foundation
import Recipes

/// Blaze and flat of 49 orders × 4088 px (SPIRou's E2DS shape): median filter,
/// percentile cut, GSL sinc fit and the flat per order. The data are sinc²
/// blazes with phase distortion, a slope, 0.3 % noise and a few NaN rows;
/// APERO's scipy `curve_fit` takes ≈ 1.5 s for the same shape on this machine.
let blazeFitBenchmark = BenchmarkCase(
    name: "blaze fit, 49 orders × 4088 px", target: "≤ 0.1 s", targetSeconds: 0.1
) { _, _ in
    let orders = 49, length = 4088
    var generator = SplitMix(seed: 7)
    var pixels = [Float](repeating: 0, count: orders * length)
    for k in 0..<orders {
        let truth = SincBlazeModel(amplitude: 2e5 * (0.5 + Double(k) / Double(orders)), period: 4200 + 30 * Double(k),
                                   centre: 1900 + 8 * Double(k), quadratic: 1e-5, cubic: -2e-9, slope: 5e-5)
        for x in 0..<length {
            pixels[k * length + x] = Float(truth.evaluate(Double(x)) * (1 + 0.003 * generator.gaussian()))
        }
        pixels[k * length + 1000 + k] = .nan
    }
    let e2ds = Image(width: length, height: orders, pixels: pixels)
    let recipe = try FlatBlaze(parameters: [:])
    return {
        let result = recipe.run(e2ds: e2ds, orders: Array(1...orders))
        let fallback = result.reports.filter(\.usedFallback).count
        let worst = result.reports.map(\.flatStd).max() ?? .nan
        return String(format: "%d fallback, max flat σ %.4f", fallback, worst)
    }
}

/// A small deterministic generator for benchmark data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func gaussian() -> Double {
        let u = (Double(next() >> 11) + 0.5) / Double(1 << 53), v = (Double(next() >> 11) + 0.5) / Double(1 << 53)
        return (-2 * log(u)).squareRoot() * cos(2 * Double.pi * v)
    }
}
