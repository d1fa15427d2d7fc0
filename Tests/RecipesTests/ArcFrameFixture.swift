import CalibCore
import Foundation
import Recipes
import Simulator
import Testing

/// A simulated arc frame with its truth: the arm (true instrument tonight),
/// the static pinhole map its nominal model predicts, and the frame with the
/// bias removed exactly (level and fixed pattern from the detector truth),
/// so that the figures measured are the recipe's, not the bias subtraction's.
struct ArcFrameFixture {
    var arm: SimulatedArm
    var renderer: FrameRenderer
    var detector: SimulatedDetector
    var image: Image
    var map: PinholeMap
    /// The shipped nominal model of the arm, rebinned to this frame.
    var nominal: NominalDispersion
    var exposureTime: Double
    var lines: [ArcLine]
    /// Per science pixel: the raw value reached the detector's saturation level.
    var saturated: [Bool]

    static func make(_ kind: ExposureKind, arm armName: String = "RED", size: Int = 1024, nightSeed: UInt64 = 7,
                     exposureTime: Double = 5, frameSeed: UInt64 = 3, lines: [ArcLine]? = nil) throws -> ArcFrameFixture {
        let simulator = try SimulatorFixture.simulator()
        let model = try #require(simulator.model.arm(named: armName))
        let arm = SimulatedArm(model: model, size: size, nightSeed: nightSeed)
        let detector = SimulatedDetector(model: model, size: size, seed: nightSeed)
        let lampLines = lines ?? simulator.lines
        let renderer = FrameRenderer(arm: arm, detector: detector, lines: lampLines)
        let raw = renderer.render(kind, exposureTime: exposureTime, seed: frameSeed)
        let image = biasSubtracted(raw, detector: detector)
        let map = arm.nominalPinholeMap(lines: simulator.lines)
        let shipped = try NominalDispersion.read(path: "\(SimulatorFixture.configDirectory)/static/SIMECH_\(armName)_nominal_dispersion.json")
        let nominal = shipped.rebinned(to: model.detector.nominalPixels / size)
        let level = UInt16(detector.truth.saturationADU)
        let saturated = (0..<(size * size)).map { raw.pixels[($0 / size) * raw.width + $0 % size] >= level }
        return ArcFrameFixture(arm: arm, renderer: renderer, detector: detector, image: image, map: map, nominal: nominal,
                               exposureTime: exposureTime, lines: simulator.lines, saturated: saturated)
    }

    static func biasSubtracted(_ raw: RawFrame, detector: SimulatedDetector) -> Image {
        let n = raw.height
        var out = Image(width: n, height: n)
        let t = detector.truth
        for y in 0..<n {
            for x in 0..<n {
                out[x, y] = Float(raw.pixels[y * raw.width + x]) - Float(t.biasLevelADU) - t.biasPattern[y * n + x]
            }
        }
        return out
    }

    /// Peak-pixel SNR of a line image of `flux` ADU centred on a pixel.
    func peakSNR(flux: Double) -> Double {
        let f = erf(0.5 / (arm.psfSigma * 2.0.squareRoot()))
        let peak = flux * f * f
        let t = detector.truth
        return peak / (t.readNoiseADU * t.readNoiseADU + peak / t.gain).squareRoot()
    }

    /// Truth for a map entry: the rendered line image of the same order, wavelength and slit.
    func truthImage(order: Int, wavelength: Double, slit: Double, multi: Bool = false) -> ArcLineImage? {
        (multi ? renderer.multiPinholeLines : renderer.singlePinholeLines).first {
            $0.order == order && abs($0.line.wavelength - wavelength) < 1e-6 && abs($0.slit - slit) < 1e-6
        }
    }
}
