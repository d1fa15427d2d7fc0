import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

/// The offset of a detector without a bias, from its lamp-off frames: frames of a known
/// offset pattern (a fixed per-pixel structure, as a Hawaii-2RG's) plus dark signal and
/// Gaussian noise of known σ, rendered in memory.
@Suite("Lamp-off master against a known offset")
struct LampOffMasterTests {
    static let (width, height) = (200, 150)
    static let noise = 3.8   // ADU: 8 e- at 2.12 e-/ADU, the simulated X-shooter NIR's

    /// Offset 1000 ADU with a column pattern of ±30 ADU and a pixel pattern of σ 20 ADU, plus 0.24 ADU of dark signal.
    static let truth: [Float] = {
        var random = Xoshiro256StarStar(keys: 42)
        return (0..<(width * height)).map { i in
            Float(1000 + 30 * sin(Double(i % width) / 7) + 20 * random.normal() + 0.24)
        }
    }()

    static func frames(_ count: Int, seed: UInt64) -> InMemoryFrames {
        var random = Xoshiro256StarStar(keys: seed)
        return InMemoryFrames((0..<count).map { _ in
            Image(width: width, height: height, pixels: truth.map { $0 + Float(noise * random.normal()) })
        })
    }

    @Test("Several lamp-off frames: the combination is the offset within its noise, and one frame's noise is found within 3 %")
    func several() throws {
        // Given six lamp-off frames
        let result = try LampOffMaster().run(Self.frames(6, seed: 7))
        // Then the noise of one frame is the rendered 3.8 ADU within 3 % (the offset pattern cancels in the difference)
        #expect(abs(result.noiseADU / Self.noise - 1) < 0.03, "noise \(result.noiseADU) ADU")
        // And the combination differs from the true offset by the noise of a mean of six (σ/√6 ≈ 1.55 ADU) — RMS within 10 %
        let residual = zip(result.image.pixels, Self.truth).map { Double($0 - $1) }
        let rms = (residual.map { $0 * $0 }.reduce(0, +) / Double(residual.count)).squareRoot()
        #expect(abs(rms / (Self.noise / 6.0.squareRoot()) - 1) < 0.1, "RMS \(rms) ADU")
        #expect(abs(residual.reduce(0, +) / Double(residual.count)) < 0.05, "mean residual")
        #expect(result.frameCount == 6)
    }

    @Test("One lamp-off frame: it is subtracted as it is, and the noise from neighbouring columns is an upper bound")
    func one() throws {
        // Given one lamp-off frame
        let frames = Self.frames(1, seed: 9)
        let result = try LampOffMaster().run(frames)
        // Then the master is that frame
        #expect(result.image.pixels == frames.frames[0].pixels)
        // And the noise is at least the rendered one (the pixel pattern adds to the neighbouring-column difference)
        #expect(result.noiseADU >= Self.noise * 0.97, "noise \(result.noiseADU) ADU")
    }
}
