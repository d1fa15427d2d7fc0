import CalibCore
import Recipes
import Testing

/// The stack's fast paths (vectorised sums, one sort per pixel, kept runs
/// found by index) must give exactly what the plain definition gives: sort,
/// clip, filter and average afresh in every iteration.
@Suite("σ-clipped stacking against its definition")
struct SigmaClippedStackTests {
    @Test("Given 3–8 frames with noise, outliers and NaN, every pixel equals the plain definition bit for bit",
          arguments: [3, 4, 5, 6, 8])
    func matchesDefinition(frameCount: Int) throws {
        var generator = SplitMix(seed: UInt64(frameCount))
        let width = 97, height = 61
        let frames = (0..<frameCount).map { _ in
            Image(width: width, height: height, pixels: (0..<(width * height)).map { i in
                let u = generator.uniform()
                if u < 0.01 { return .nan }
                if u < 0.05 { return Float(1000 + 400 * generator.uniform()) }
                // Integer ADU, with equal values common, as in raw biases; a level that varies over the strip.
                return Float((200 + Double(i % 50) + 3 * generator.gaussian()).rounded())
            })
        }
        for (scale, noiseFloor, gain) in [(nil, Float(3), Float(0)), (nil, 0, 0),
                                          ((0..<frameCount).map { 1 + Float($0) / 10 }, 2, 1.5)] as [([Float]?, Float, Float)] {
            let stack = SigmaClippedStack(sigma: 3, iterations: 3, stripRows: 16)
            let (image, rejected) = try stack.combine(InMemoryFrames(frames), scale: scale, noiseFloor: noiseFloor, gain: gain)
            var expectedRejected = 0
            for p in 0..<(width * height) {
                let values = (0..<frameCount).map { frames[$0].pixels[p] }
                let (mean, dropped) = Self.definition(values, scale: scale ?? [Float](repeating: 1, count: frameCount),
                                                      sigma: 3, iterations: 3, noiseFloor: noiseFloor, gain: gain)
                expectedRejected += dropped
                #expect(image.pixels[p].bitPattern == mean.bitPattern || (image.pixels[p].isNaN && mean.isNaN),
                        "pixel \(p): \(image.pixels[p]) vs \(mean), scale \(String(describing: scale))")
            }
            #expect(rejected == expectedRejected)
        }
    }

    /// The per-pixel rule as documented on `SigmaClippedStack.combine`, written plainly.
    static func definition(_ raw: [Float], scale: [Float], sigma: Float, iterations: Int, noiseFloor: Float,
                           gain: Float) -> (mean: Float, rejected: Int) {
        var values: [Float] = []
        for (f, v) in raw.enumerated() where !v.isNaN { values.append(v * scale[f]) }
        func mean(_ v: [Float]) -> Float { v.reduce(0, +) / Float(v.count) }
        func median(_ v: [Float]) -> Float {
            let s = v.sorted(), n = s.count
            return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
        }
        func floor(_ level: Float) -> Float { gain > 0 ? (noiseFloor * noiseFloor + max(level, 0) / gain).squareRoot() : noiseFloor }
        guard values.count > 2 else { return (values.isEmpty ? .nan : mean(values), 0) }
        let count = values.count
        if noiseFloor > 0 || gain > 0, values.max()! - values.min()! <= sigma * floor(mean(values)) { return (mean(values), 0) }
        for _ in 0..<iterations {
            let centre = median(values)
            let spread = max(median(values.map { abs($0 - centre) }) * Float(RobustStatistics.madToSigma), floor(centre))
            guard spread > 0 else { break }
            let kept = values.filter { abs($0 - centre) <= sigma * spread }
            if kept.count == values.count || kept.count < 2 { break }
            values = kept
        }
        return (mean(values), count - values.count)
    }
}
