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
    /// no other lamp line of the same order lies within `isolationFWHM` PSF
    /// FWHM along the dispersion with more than `blendFraction` of its flux:
    /// a blend pulls a Gaussian centroid by up to its flux fraction times the
    /// separation, so a 2 % neighbour at 3 FWHM moves it by well under 0.01 px
    /// once the fit window ends before it. Lines whose image (any pinhole)
    /// falls within `edgeFWHM` FWHM of the detector edge are left out so that
    /// every stamp lies on the detector.
    ///
    /// Positions are in pixels of this arm's `size` and binning; see
    /// `PinholeMap.rebinned(to:)` for other binnings.
    public func nominalPinholeMap(lines: [ArcLine], minimumIntensity: Double = 100, isolationFWHM: Double = 3,
                                  blendFraction: Double = 0.02, edgeFWHM: Double = 4, lineListName: String = "") -> PinholeMap {
        let lampLines = lines.filter { $0.relativeIntensity >= model.arcLamp.minimumRelativeIntensity }
            .sorted { $0.wavelength < $1.wavelength }
        var slits = [0.0]
        for s in model.slit.pinholePositionsArcsec where s != 0 { slits.append(s) }
        let fwhm = psfFWHM
        let margin = edgeFWHM * fwhm
        let hi = Double(size - 1) - margin
        var entries: [PinholeMap.Entry] = []
        for m in orders {
            let a = nominalWavelength(order: m, y: -0.5, slit: 0), b = nominalWavelength(order: m, y: Double(size) - 0.5, slit: 0)
            let inOrder = lampLines.filter { $0.wavelength >= min(a, b) && $0.wavelength <= max(a, b) }
            let ys = inOrder.map { nominalPosition(order: m, wavelength: $0.wavelength, slit: 0).y }
            let fluxes = inOrder.map { lineFlux($0, order: m, exposureTime: 1) }
            for (k, line) in inOrder.enumerated() where line.relativeIntensity >= minimumIntensity {
                var isolated = true
                var j = k - 1
                while j >= 0 && abs(ys[j] - ys[k]) < isolationFWHM * fwhm {
                    if fluxes[j] > blendFraction * fluxes[k] { isolated = false }
                    j -= 1
                }
                j = k + 1
                while j < inOrder.count && abs(ys[j] - ys[k]) < isolationFWHM * fwhm {
                    if fluxes[j] > blendFraction * fluxes[k] { isolated = false }
                    j += 1
                }
                guard isolated else { continue }
                let positions = slits.map { nominalPosition(order: m, wavelength: line.wavelength, slit: $0) }
                guard positions.allSatisfy({ $0.x >= margin && $0.x <= hi && $0.y >= margin && $0.y <= hi }) else { continue }
                for (s, p) in zip(slits, positions) {
                    entries.append(PinholeMap.Entry(wavelength: line.wavelength, order: m, slit: s, x: p.x, y: p.y,
                                                    intensity: line.relativeIntensity))
                }
            }
        }
        var metadata = ["instrument": "SIMECH", "arm": model.name, "model": "nominal (no night displacement)",
                        "size": "\(size)", "selection": "intensity >= \(minimumIntensity), isolated within \(isolationFWHM) FWHM at \(blendFraction) flux"]
        if !lineListName.isEmpty { metadata["lineList"] = lineListName }
        return PinholeMap(entries: entries, binning: binning, metadata: metadata)
    }
}
