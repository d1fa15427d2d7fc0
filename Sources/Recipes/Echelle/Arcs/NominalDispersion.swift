import CalibCore
import Foundation

/// A static calibration: the instrument's nominal (design) dispersion and
/// spatial model, X, Y = Σ cᵢⱼₖ nⁱ λʲ sᵏ fitted to the optical model over the
/// whole detector, not only where arc lines fall.
///
/// With it, a night's solution is the nominal model plus a low-degree
/// correction fitted to the lines (`DispersionMapFit`), as pipelines built on
/// a physical model do (ESO's X-shooter model, adjusted nightly): tonight's
/// flexure and temperature move the format by a shift, a rotation, a scale
/// and a bowing, which a degree-2 correction in (n, λ) follows to ≤ 0.007 px
/// on SIMECH, so the solution stays physical beyond an order's last line,
/// where a free degree-4 polynomial can only extrapolate.
///
/// File format: JSON, `{"metadata": {…}, "binning": 1, "x": surface, "y": surface}`
/// with each surface a `PolynomialSurface` in (n, λ nm, s arcsec).
public struct NominalDispersion: Sendable, Codable, Equatable {
    public var metadata: [String: String]
    /// Detector binning the positions are given for (x; y in `binningY`).
    public var binning: Int
    /// Binning along y: the `binningY` metadata (absent: the same as x).
    public var binningY: Int { metadata["binningY"].flatMap { Int($0) } ?? binning }
    public var x: PolynomialSurface
    public var y: PolynomialSurface

    public init(metadata: [String: String], binning: Int, x: PolynomialSurface, y: PolynomialSurface) {
        precondition(x.degrees.count == 3 && y.degrees.count == 3, "a nominal model is in (n, λ, s)")
        self.metadata = metadata; self.binning = binning; self.x = x; self.y = y
    }

    /// The same model for another binning: a binned pixel b covers unbinned
    /// pixels b·B … b·B + B − 1, so x_B = (x₁ + ½)/B − ½ (as `PinholeMap.rebinned`).
    public func rebinned(to newBinning: Int) -> NominalDispersion { rebinned(x: newBinning, y: newBinning) }

    /// The same model for binning `newX` × `newY`: X scales with the x binning, Y with the y binning.
    public func rebinned(x newX: Int, y newY: Int) -> NominalDispersion {
        let oldY = binningY
        guard newX != binning || newY != oldY else { return self }
        let factorX = Double(binning) / Double(newX), factorY = Double(oldY) / Double(newY)
        var out = self
        out.binning = newX
        if newY == newX { out.metadata["binningY"] = nil } else { out.metadata["binningY"] = "\(newY)" }
        out.x = x.transformed(factor: factorX, shift: 0.5 * factorX - 0.5)
        out.y = y.transformed(factor: factorY, shift: 0.5 * factorY - 0.5)
        return out
    }

    /// The model as a solution at slit position `slit` (a single-pinhole
    /// solution's form), or in (n, λ, s) when `slit` is nil.
    public func solution(slit: Double?) -> (x: PolynomialSurface, y: PolynomialSurface) {
        guard let slit else { return (x, y) }
        return (x.fixing(variable: 2, at: slit), y.fixing(variable: 2, at: slit))
    }

    /// Fits the model to sampled positions of the optical model.
    public static func fit(points: [[Double]], x: [Double], y: [Double], degrees: [Int], metadata: [String: String],
                           binning: Int) throws -> (model: NominalDispersion, worstX: Double, worstY: Double) {
        let result = try fit(points: points, x: x, y: y, degrees: degrees, metadata: metadata, binning: binning, clipSigma: nil)
        return (result.model, result.worstX, result.worstY)
    }

    /// Fits the model to positions that may hold misidentified lines (a pinhole table measured on arcs rather
    /// than predicted by an optical model): with `clipSigma`, points further than that many robust σ from
    /// the surface are clipped, each axis on its own (`PolynomialSurfaceFit`, up to 10 passes), and
    /// `rejected[i]` says point i was clipped on x or y. Worst residuals are over the kept points; nil
    /// `clipSigma` keeps every point (one pass), as for a physical model's own predictions.
    public static func fit(points: [[Double]], x: [Double], y: [Double], degrees: [Int], metadata: [String: String],
                           binning: Int, clipSigma: Double?)
        throws -> (model: NominalDispersion, worstX: Double, worstY: Double, rejected: [Bool]) {
        let fitter = clipSigma.map { PolynomialSurfaceFit(degrees: degrees, clipSigma: $0, maxIterations: 10) }
            ?? PolynomialSurfaceFit(degrees: degrees, maxIterations: 1)
        let fx = try fitter.fit(points: points, values: x)
        let fy = try fitter.fit(points: points, values: y)
        let rejected = clipSigma == nil ? [Bool](repeating: false, count: points.count) : zip(fx.clipped, fy.clipped).map { $0 || $1 }
        func worst(_ residuals: [Double]) -> Double {
            zip(residuals, rejected).filter { !$0.1 }.map { abs($0.0) }.max() ?? .nan
        }
        return (NominalDispersion(metadata: metadata, binning: binning, x: fx.surface, y: fy.surface),
                worst(fx.residuals), worst(fy.residuals), rejected)
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }

    public static func read(path: String) throws -> NominalDispersion {
        let model = try JSONDecoder().decode(NominalDispersion.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        guard model.x.degrees.count == 3, model.y.degrees.count == 3,
              model.x.coefficients.count == model.x.terms.count, model.y.coefficients.count == model.y.terms.count else {
            throw NominalDispersionError(path: path, message: "expected surfaces in (n, λ, s) with one coefficient per term")
        }
        return model
    }
}

/// A nominal dispersion file that cannot be used.
public struct NominalDispersionError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

extension NominalDispersion: EchelleFormatModel {
    public func position(order: Int, wavelength: Double, slit: Double) -> (x: Double, y: Double) {
        (x.evaluate(Double(order), wavelength, slit), y.evaluate(Double(order), wavelength, slit))
    }
}
