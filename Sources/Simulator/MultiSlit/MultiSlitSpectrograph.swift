import CalibCore
import Foundation
import Yams

/// The simulated multi-slit spectrograph: its exact geometry (the truth the OPT, CRV and IDS
/// recipes are tested against). See `MultiSlitInstrumentModel` for the equations.
///
/// Every aperture (slit, or reference hole treated as a short slit along X) is addressed by its
/// index in `apertures`: the mask's slits first, then its holes.
public struct MultiSlitSpectrograph: Sendable {
    public let model: MultiSlitInstrumentModel
    public let mask: SlitMaskDescription
    /// Arc lines lit by the lamp (amplitude ≥ `arcMinimumAmplitude`), nm, sorted.
    public let lines: [ArcLine]
    public let apertures: [SlitMaskDescription.Slit]

    public init(model: MultiSlitInstrumentModel, mask: SlitMaskDescription, lines: [ArcLine]) {
        self.model = model; self.mask = mask
        self.lines = lines.filter { $0.relativeIntensity >= model.lamps.arcMinimumAmplitude }
        apertures = mask.slits + mask.holes.map(\.asSlit)
    }

    /// Loads the model YAML, its mask and line list from a configuration directory holding
    /// `simulator/` and `static/`.
    public static func load(configurationDirectory: URL, modelFile: String) throws -> MultiSlitSpectrograph {
        let modelURL = configurationDirectory.appendingPathComponent("simulator").appendingPathComponent(modelFile)
        let model = try YAMLDecoder().decode(MultiSlitInstrumentModel.self, from: String(contentsOf: modelURL, encoding: .utf8))
        let staticDirectory = configurationDirectory.appendingPathComponent("static")
        let maskURL = staticDirectory.appendingPathComponent(model.maskFile)
        let mask = try SlitMaskDescription.parse(yaml: String(contentsOf: maskURL, encoding: .utf8), source: maskURL.path)
        let lines = ArcLineList.parse(try String(contentsOf: staticDirectory.appendingPathComponent(model.arcLineList), encoding: .utf8))
        return MultiSlitSpectrograph(model: model, mask: mask, lines: lines)
    }

    // MARK: - Truth

    /// The OPT model: detector position (px) of mask point (X, Y) mm at the reference wavelength.
    public func opticalPosition(x maskX: Double, y maskY: Double) -> (x: Double, y: Double) {
        let u = model.optics.flipX ? -maskX : maskX
        let v = model.optics.flipY ? -maskY : maskY
        return (Self.evaluate(model.optics.opticalX, u, v), Self.evaluate(model.optics.opticalY, u, v))
    }

    /// Dispersion offset d (px along y from the reference wavelength's image) of λ (nm) at mask X (mm).
    public func dispersionOffset(wavelength: Double, maskX: Double) -> Double {
        let o = model.optics, dl = wavelength - o.referenceWavelength
        return o.dispersion * (1 + o.dispersionFieldGradient * maskX) * dl + o.dispersionQuadratic * dl * dl
    }

    /// Detector position of mask point (X, Y) given its dispersion offset d (px).
    public func position(x maskX: Double, y maskY: Double, offset d: Double) -> (x: Double, y: Double) {
        let opt = opticalPosition(x: maskX, y: maskY), o = model.optics
        let bend = (o.curvatureLinear + o.curvatureLinearField * maskX) * d + (o.curvatureQuadratic + o.curvatureQuadraticField * maskX) * d * d
        return (opt.x + bend, opt.y + d)
    }

    /// Detector position of mask point (X, Y) at wavelength λ (nm).
    public func position(x maskX: Double, y maskY: Double, wavelength: Double) -> (x: Double, y: Double) {
        position(x: maskX, y: maskY, offset: dispersionOffset(wavelength: wavelength, maskX: maskX))
    }

    /// The two spatial edges (px, low then high x) of aperture `index` lit by a continuum at row y:
    /// the tracks of its centre line's two ends, which a through-slit flat shows as its
    /// half-level edges (the ends are cut parallel to the dispersion).
    public func edges(aperture index: Int, row y: Double) -> (low: Double, high: Double) {
        let xs = apertures[index].ends.map { end -> Double in
            let d = y - opticalPosition(x: end.x, y: end.y).y
            return position(x: end.x, y: end.y, offset: d).x
        }
        return (min(xs[0], xs[1]), max(xs[0], xs[1]))
    }

    /// Where the centre line of aperture `index` shows λ (nm) at column x: the line's row (px)
    /// and the slit coordinate s (mm from the centre along the axis), found by Newton's method.
    public func lineRow(aperture index: Int, wavelength: Double, column x: Double) -> (y: Double, s: Double) {
        let slit = apertures[index]
        func at(_ s: Double) -> (x: Double, y: Double) {
            let p = slit.point(along: s)
            return position(x: p.x, y: p.y, wavelength: wavelength)
        }
        let a = at(-slit.length / 2), b = at(slit.length / 2)
        var s = -slit.length / 2 + (x - a.x) / (b.x - a.x) * slit.length
        for _ in 0..<8 {
            let h = 1e-3 * slit.length
            let derivative = (at(s + h).x - at(s - h).x) / (2 * h)
            let step = (at(s).x - x) / derivative
            s -= step
            if abs(step) < 1e-12 { break }
        }
        return (at(s).y, s)
    }

    /// Local scale |∂y/∂Y| of the OPT model at a mask point, px/mm: converts a slit's width
    /// along the dispersion into pixels.
    func dispersionAxisScale(x maskX: Double, y maskY: Double) -> Double {
        abs(opticalPosition(x: maskX, y: maskY + 0.01).y - opticalPosition(x: maskX, y: maskY - 0.01).y) / 0.02
    }

    static func evaluate(_ terms: [MaskPolynomialTerm], _ u: Double, _ v: Double) -> Double {
        terms.reduce(0) { $0 + $1.coefficient * pow(u, Double($1.xPower)) * pow(v, Double($1.yPower)) }
    }
}
