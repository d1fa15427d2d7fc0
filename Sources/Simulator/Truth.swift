import Foundation
import Dispatch

/// A 2-D polynomial f(a, b) = Σ_{i≤degreeA, j≤degreeB} c[i][j] · â^i · b̂^j with scaled variables
/// â = (a − offsetA) / halfRangeA and b̂ = (b − offsetB) / halfRangeB (both in [−1, 1] over the fitted data).
public struct Polynomial2D: Codable, Sendable {
    /// Human-readable definition, e.g. "x = Σ c[i][j] n̂^i ŷ^j".
    public var definition: String
    public var variableA: String
    public var variableB: String
    public var offsetA: Double
    public var halfRangeA: Double
    public var offsetB: Double
    public var halfRangeB: Double
    public var degreeA: Int
    public var degreeB: Int
    /// coefficients[i][j] multiplies â^i b̂^j.
    public var coefficients: [[Double]]
    /// Fit residuals over the samples (same unit as the fitted quantity, pixels).
    public var rmsResidual: Double
    public var maxResidual: Double
    public var samples: Int

    public func evaluate(_ a: Double, _ b: Double) -> Double {
        let ah = (a - offsetA) / halfRangeA, bh = (b - offsetB) / halfRangeB
        var s = 0.0
        var ap = 1.0
        for i in 0...degreeA {
            var bp = 1.0
            for j in 0...degreeB { s += coefficients[i][j] * ap * bp; bp *= bh }
            ap *= ah
        }
        return s
    }

    /// Least-squares fit by Householder QR.
    static func fit(definition: String, names: (String, String), a: [Double], b: [Double], value: [Double],
                    degrees: (Int, Int)) -> Polynomial2D {
        let (amin, amax) = (a.min() ?? 0, a.max() ?? 1)
        let (bmin, bmax) = (b.min() ?? 0, b.max() ?? 1)
        let oa = 0.5 * (amin + amax), ha = max(1e-12, 0.5 * (amax - amin))
        let ob = 0.5 * (bmin + bmax), hb = max(1e-12, 0.5 * (bmax - bmin))
        let (da, db) = degrees
        let cols = (da + 1) * (db + 1)
        var mat = [Double](repeating: 0, count: a.count * cols)
        for k in 0..<a.count {
            let ah = (a[k] - oa) / ha, bh = (b[k] - ob) / hb
            var ap = 1.0
            for i in 0...da {
                var bp = 1.0
                for j in 0...db { mat[k * cols + i * (db + 1) + j] = ap * bp; bp *= bh }
                ap *= ah
            }
        }
        let c = (a.count >= cols ? HouseholderLeastSquares.solve(rows: a.count, cols: cols, matrix: mat, rhs: value) : nil)
            ?? [Double](repeating: 0, count: cols)
        var coeffs = [[Double]](repeating: [Double](repeating: 0, count: db + 1), count: da + 1)
        for i in 0...da { for j in 0...db { coeffs[i][j] = c[i * (db + 1) + j] } }
        var p = Polynomial2D(definition: definition, variableA: names.0, variableB: names.1, offsetA: oa, halfRangeA: ha,
                             offsetB: ob, halfRangeB: hb, degreeA: da, degreeB: db, coefficients: coeffs,
                             rmsResidual: 0, maxResidual: 0, samples: a.count)
        var ss = 0.0, mx = 0.0
        for k in 0..<a.count {
            let r = abs(p.evaluate(a[k], b[k]) - value[k])
            ss += r * r; mx = max(mx, r)
        }
        p.rmsResidual = a.isEmpty ? 0 : (ss / Double(a.count)).squareRoot()
        p.maxResidual = mx
        return p
    }
}

/// Sampled truth for one order.
public struct OrderTruth: Codable, Sendable {
    /// Physical echelle order m.
    public var order: Int
    /// x of the order centre (slit 0) at `ArmTruth.rows`.
    public var centre: [Double]
    /// Cross-profile edges at fraction 0.5 and at `ArmTruth.defaultEdgeFraction`, at `ArmTruth.rows`.
    public var lowerEdgeHalf: [Double]
    public var upperEdgeHalf: [Double]
    public var lowerEdgeDefault: [Double]
    public var upperEdgeDefault: [Double]
    /// Wavelength (nm, slit 0) at `ArmTruth.rows`.
    public var wavelength: [Double]
    /// Noise-free flat flux summed across the order at `ArmTruth.rows`, ADU per second (lampScale 1).
    public var flatExtractedFluxPerSecond: [Double]
    /// The same for the arm's D2 flat lamp (nil when it has none).
    public var d2FlatExtractedFluxPerSecond: [Double]?
    /// Wavelength range on the detector, nm.
    public var wavelengthMin: Double
    public var wavelengthMax: Double
    /// Blaze peak (ν = 0): wavelength (nm) and true position.
    public var blazePeakWavelength: Double
    public var blazePeakX: Double
    public var blazePeakY: Double
}

/// Everything a test or a truth file needs about one arm on one night.
public struct ArmTruth: Codable, Sendable {
    public var arm: String
    public var size: Int
    public var binning: Int
    public var rawWidth: Int
    public var height: Int
    public var pixelPitchMillimetres: Double
    public var psfFWHMPixels: Double
    public var psfSigmaPixels: Double
    public var slitLengthArcsec: Double
    /// Arcsec per pixel along the slit at this binning.
    public var plateScaleArcsecPerPixel: Double
    public var pinholePositionsArcsec: [Double]
    /// Fraction used for `lowerEdgeDefault` / `upperEdgeDefault`.
    public var defaultEdgeFraction: Double
    public var displacement: NightDisplacement
    public var sampleStep: Int
    /// Rows at which per-order arrays are sampled (0, step, 2·step, …, and size − 1).
    public var rows: [Int]
    public var orders: [OrderTruth]
    /// x(n, y) of the order centres, n = physical order; scaling stated in the struct.
    public var centreFit: Polynomial2D
    /// X(n, λ) and Y(n, λ) at slit 0 (λ in nm), scaled n̂, λ̂ ∈ [−1, 1].
    public var dispersionXFit: Polynomial2D
    public var dispersionYFit: Polynomial2D
}

extension SimulatedArm {
    /// Default edge fraction for extraction windows.
    public static let defaultEdgeFraction = 0.05

    /// Samples the truth every `sampleStep` rows and fits the polynomial surfaces
    /// (centre: degrees (n, y); dispersion: degrees (n, λ)).
    public func truth(sampleStep: Int = 16, centreDegrees: (Int, Int) = (4, 4),
                      dispersionDegrees: (Int, Int) = (5, 5)) -> ArmTruth {
        var rows = Array(stride(from: 0, to: size, by: max(1, sampleStep)))
        if rows.last != size - 1 { rows.append(size - 1) }
        let f0 = SimulatedArm.defaultEdgeFraction
        var ordersOut = [OrderTruth?](repeating: nil, count: orders.count)
        let listed = orders
        let me = self
        let rowsC = rows
        ordersOut.withUnsafeMutableBufferPointer { ob in
            let box = UnsafeSendable(ob.baseAddress!)
            DispatchQueue.concurrentPerform(iterations: listed.count) { k in
                let base = box.value
                let m = listed[k]
                let t = me.table(m)!
                var c: [Double] = [], lh: [Double] = [], uh: [Double] = [], ld: [Double] = [], ud: [Double] = []
                var w: [Double] = [], fl: [Double] = [], d2: [Double] = []
                for y in rowsC {
                    c.append(t.centre[y]); w.append(t.lambda[y])
                    let e1 = SimulatedArm.profileEdges(lo: t.slitLow[y], hi: t.slitHigh[y], sigma: me.psfSigma, fraction: 0.5)
                    let e2 = SimulatedArm.profileEdges(lo: t.slitLow[y], hi: t.slitHigh[y], sigma: me.psfSigma, fraction: f0)
                    lh.append(e1.lower); uh.append(e1.upper); ld.append(e2.lower); ud.append(e2.upper)
                    fl.append(me.flatExtractedFlux(order: m, y: y, exposureTime: 1))
                    d2.append(me.d2FlatExtractedFlux(order: m, y: y, exposureTime: 1))
                }
                let r = me.wavelengthRange(order: m)
                let bw = me.blazePeakWavelength(order: m)
                let bp = me.position(order: m, wavelength: bw, slit: 0)
                base[k] = OrderTruth(order: m, centre: c, lowerEdgeHalf: lh, upperEdgeHalf: uh, lowerEdgeDefault: ld,
                                     upperEdgeDefault: ud, wavelength: w, flatExtractedFluxPerSecond: fl,
                                     d2FlatExtractedFluxPerSecond: me.model.d2FlatLamp == nil ? nil : d2,
                                     wavelengthMin: r.lowerBound, wavelengthMax: r.upperBound,
                                     blazePeakWavelength: bw, blazePeakX: bp.x, blazePeakY: bp.y)
            }
        }
        let ot = ordersOut.map { $0! }

        // Fits over on-detector samples.
        var na: [Double] = [], ya: [Double] = [], xa: [Double] = []
        var nl: [Double] = [], la: [Double] = [], xl: [Double] = [], yl: [Double] = []
        let hi = Double(size) - 0.5
        for o in ot {
            for (k, y) in rows.enumerated() where o.centre[k] >= -0.5 && o.centre[k] <= hi {
                na.append(Double(o.order)); ya.append(Double(y)); xa.append(o.centre[k])
                nl.append(Double(o.order)); la.append(o.wavelength[k]); xl.append(o.centre[k]); yl.append(Double(y))
            }
        }
        let cf = Polynomial2D.fit(definition: "x = Σ c[i][j] n̂^i ŷ^j, n̂ = (n − offsetA)/halfRangeA, ŷ = (y − offsetB)/halfRangeB",
                                  names: ("order", "y"), a: na, b: ya, value: xa, degrees: centreDegrees)
        let dx = Polynomial2D.fit(definition: "X = Σ c[i][j] n̂^i λ̂^j (slit 0), λ in nm",
                                  names: ("order", "wavelength_nm"), a: nl, b: la, value: xl, degrees: dispersionDegrees)
        let dy = Polynomial2D.fit(definition: "Y = Σ c[i][j] n̂^i λ̂^j (slit 0), λ in nm",
                                  names: ("order", "wavelength_nm"), a: nl, b: la, value: yl, degrees: dispersionDegrees)
        return ArmTruth(arm: model.name, size: size, binning: binning, rawWidth: rawWidth, height: height,
                        pixelPitchMillimetres: pixelPitch, psfFWHMPixels: psfFWHM, psfSigmaPixels: psfSigma,
                        slitLengthArcsec: model.slit.lengthArcsec,
                        plateScaleArcsecPerPixel: model.slit.plateScaleArcsecPerMillimetre * pixelPitch,
                        pinholePositionsArcsec: model.slit.pinholePositionsArcsec, defaultEdgeFraction: f0,
                        displacement: displacement, sampleStep: sampleStep, rows: rows, orders: ot,
                        centreFit: cf, dispersionXFit: dx, dispersionYFit: dy)
    }
}
