import CalibCore
import Foundation

extension SimulatedArm {
    /// The static pinhole map this arm's *nominal* model predicts: every
    /// sufficiently bright and isolated arc line of every listed order, at
    /// the central pinhole and each pinhole of the multi-pinhole mask, with
    /// its `nominalPosition` (no night displacement). Recipes start from this
    /// imperfect first guess and must find the night's true positions.
    ///
    /// A line is kept when its relative intensity is ≥ `minimumIntensity` and
    /// its lamp neighbours in the same order do not pull its fitted centre by
    /// more than `maximumBlendShift` PSF σ (so the selection does not depend on
    /// the binning the map is made for). For a Gaussian of width σ and a
    /// neighbour of flux fraction f at a distance d along the dispersion, the
    /// least-squares centre moves by ≈ f·d·exp(−d²/4σ²) (first order in f);
    /// the pulls of all neighbours within `neighbourFWHM` FWHM are summed with
    /// their signs. This keeps a line with a 10 % neighbour at 2 FWHM (pull
    /// 0.002 σ) and refuses one with a 5 % neighbour at 1.5 FWHM (0.008 σ),
    /// which a fixed isolation distance either over- or under-does. A line is left
    /// out when its central-pinhole image falls within `edgeFWHM` FWHM of the
    /// detector edge, and so is each other pinhole image that does, so that
    /// every stamp lies on the detector while the orders at the detector's
    /// sides keep the lines their central pinhole sees.
    ///
    /// Positions are in pixels of this arm's `size` and binning; see
    /// `PinholeMap.rebinned(to:)` for other binnings.
    public func nominalPinholeMap(lines: [ArcLine], minimumIntensity: Double = 100, maximumBlendShift: Double = 0.005,
                                  neighbourFWHM: Double = 4, edgeFWHM: Double = 4, lineListName: String = "") -> PinholeMap {
        let lampLines = lines.filter { $0.relativeIntensity >= model.arcLamp.minimumRelativeIntensity }
            .sorted { $0.wavelength < $1.wavelength }
        var slits = [0.0]
        for s in model.slit.pinholePositionsArcsec where s != 0 { slits.append(s) }
        let fwhm = psfFWHM, sigma = psfSigma
        let margin = edgeFWHM * fwhm
        let hi = Double(size - 1) - margin
        var entries: [PinholeMap.Entry] = []
        for m in orders {
            let a = nominalWavelength(order: m, y: -0.5, slit: 0), b = nominalWavelength(order: m, y: Double(size) - 0.5, slit: 0)
            let inOrder = lampLines.filter { $0.wavelength >= min(a, b) && $0.wavelength <= max(a, b) }
            let ys = inOrder.map { nominalPosition(order: m, wavelength: $0.wavelength, slit: 0).y }
            let fluxes = inOrder.map { lineFlux($0, order: m, exposureTime: 1) }
            for (k, line) in inOrder.enumerated() where line.relativeIntensity >= minimumIntensity {
                var pull = 0.0
                for j in stride(from: k - 1, through: 0, by: -1) {
                    let d = ys[j] - ys[k]
                    guard abs(d) < neighbourFWHM * fwhm else { break }
                    pull += fluxes[j] / fluxes[k] * d * exp(-d * d / (4 * sigma * sigma))
                }
                for j in (k + 1)..<inOrder.count {
                    let d = ys[j] - ys[k]
                    guard abs(d) < neighbourFWHM * fwhm else { break }
                    pull += fluxes[j] / fluxes[k] * d * exp(-d * d / (4 * sigma * sigma))
                }
                guard abs(pull) <= maximumBlendShift * sigma else { continue }
                let positions = slits.map { nominalPosition(order: m, wavelength: line.wavelength, slit: $0) }
                func onDetector(_ p: (x: Double, y: Double)) -> Bool { p.x >= margin && p.x <= hi && p.y >= margin && p.y <= hi }
                // The central pinhole must be on the detector; of the others, those that are.
                guard onDetector(positions[0]) else { continue }
                for (s, p) in zip(slits, positions) where onDetector(p) {
                    entries.append(PinholeMap.Entry(wavelength: line.wavelength, order: m, slit: s, x: p.x, y: p.y,
                                                    intensity: line.relativeIntensity))
                }
            }
        }
        var metadata = ["instrument": "SIMECH", "arm": model.name, "model": "nominal (no night displacement)",
                        "size": "\(size)", "selection": "intensity >= \(minimumIntensity), blend pull <= \(maximumBlendShift) PSF sigma"]
        if !lineListName.isEmpty { metadata["lineList"] = lineListName }
        return PinholeMap(entries: entries, binning: binning, metadata: metadata)
    }
}
