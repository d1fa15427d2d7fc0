import CalibCore
import Dispatch
import Foundation

/// Fluxes of the identified bright lines of an arc-lamp frame, for lamp
/// monitoring (the MAVIS/Hector lamp-flux measurements, done on an echelle
/// frame): each pinhole-map line is predicted by tonight's dispersion
/// solution, fitted with a pixel-integrated Gaussian (`ArcLineLocator`),
/// whose amplitude is the line's total flux — the sum over all its pixels,
/// not only those in a window, so no aperture correction is needed.
///
/// Fluxes are given in ADU/s and e⁻/s (× gain), each divided by the number
/// of fibres feeding the spectrograph where the profile says so (Hector
/// divides by the 61 fibres of a hexabundle). The frame must have bias and
/// dark removed. Lines that are not found, are fitted with a wrong width or
/// have peak SNR below `minimumSNR` are left out of the table (and counted).
///
/// A line with a saturated pixel within 3 σ of its predicted centre cannot
/// be measured by any fit (its core is clipped, so the flux comes out low,
/// by up to the clipped fraction): it stays in the table, flagged with the
/// reason and a NaN flux, so that a lamp whose brightest lines saturate is
/// seen as such, and is left out of the flux statistics.
public struct LampLineFlux: Sendable {
    public static let name = "lamp_flux"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = ["psfFWHM", "stampHalfWidth", "detectionThreshold", "minimumSNR", "fibres",
                                                     "minimumFWHMRatio", "maximumFWHMRatio"]

    public var psfFWHM: Double
    public var stampHalfWidth: Double
    public var detectionThreshold: Double
    public var minimumSNR: Double
    public var fibres: Double
    public var widthRange: ClosedRange<Double>

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        psfFWHM = try r.value("psfFWHM", default: 6, in: 0.5...100)
        stampHalfWidth = try r.value("stampHalfWidth", default: 12, in: 2...500)
        detectionThreshold = try r.value("detectionThreshold", default: 5, in: 1...1000)
        minimumSNR = try r.value("minimumSNR", default: 20, in: 0...1e6)
        fibres = try r.value("fibres", default: 1, in: 1...10_000)
        widthRange = try r.value("minimumFWHMRatio", default: 0.5, in: 0.05...1)...(try r.value("maximumFWHMRatio", default: 2, in: 1...20))
    }

    public struct LineFlux: Sendable {
        public var wavelength: Double
        public var order: Int
        public var x: Double
        public var y: Double
        /// Total counts of the line, ADU.
        public var fluxADU: Double
        public var fluxADUPerSecond: Double
        /// NaN when the gain is unknown.
        public var fluxElectronsPerSecond: Double
        public var peakSNR: Double
        public var fwhm: Double
        /// Pixels at the detector's saturation level within 3 σ of the centre (0 for a measurable line).
        public var saturatedPixels: Int = 0
        /// Why the flux is not given ("" when it is).
        public var flag: String = ""
    }

    public struct Result: Sendable {
        public var lines: [LineFlux]
        public var metrics: [QCMeasurement]
    }

    /// - Parameters:
    ///   - image: bias- and dark-subtracted frame, ADU.
    ///   - map: central-pinhole pinhole map at the frame's binning (which lines, and their λ, n).
    ///   - solution: tonight's dispersion solution, to predict each line's position.
    ///   - exposureTime: seconds (> 0).
    ///   - gain: e⁻/ADU (NaN if unknown).
    ///   - saturated: per pixel of `image`, whether the raw value reached the detector's saturation level (nil: none did).
    public func run(_ image: Image, map: PinholeMap, solution: DispersionSolution, exposureTime: Double, gain: Double,
                    columns: Range<Int>? = nil, saturated: [Bool]? = nil) -> Result {
        // Per-axis stamps; a circular Gaussian of the axes' geometric-mean σ at unequal binning (as DispersionMapFit.locator).
        let bx = Double(max(map.binning, 1)), by = Double(max(map.binningY, 1))
        let sigma = psfFWHM / (bx * by).squareRoot() / (2 * (2 * log(2.0)).squareRoot())
        let locator = ArcLineLocator(halfWidthX: max(2, Int((stampHalfWidth / bx).rounded())),
                                     halfWidthY: max(2, Int((stampHalfWidth / by).rounded())), psfSigma: sigma, detectionThreshold: detectionThreshold,
                                     sigmaRange: widthRange, gain: gain.isNaN ? 1 : gain, columns: columns)
        let entries = map.centralPinhole.entries.filter { solution.orders.contains($0.order) }
        let found = DispersionMapFit.parallelMap(entries) { e -> LineMeasurement in
            let p = solution.position(order: e.order, wavelength: e.wavelength)
            return locator.locate(image, x: p.x, y: p.y)
        }
        let perSecond = 1 / (max(exposureTime, 1e-9) * fibres)
        var lines: [LineFlux] = []
        let reach = max(1, Int((3 * sigma).rounded(.up)))
        func saturatedPixels(near e: PinholeMap.Entry) -> Int {
            guard let saturated, saturated.count == image.pixels.count else { return 0 }
            let p = solution.position(order: e.order, wavelength: e.wavelength)
            guard p.x.isFinite, p.y.isFinite else { return 0 }
            let cx = Int(p.x.rounded()), cy = Int(p.y.rounded())
            var count = 0
            for y in max(cy - reach, 0)...max(min(cy + reach, image.height - 1), 0) {
                for x in max(cx - reach, 0)...max(min(cx + reach, image.width - 1), 0) where saturated[y * image.width + x] { count += 1 }
            }
            return count
        }
        for (e, m) in zip(entries, found) {
            let clipped = saturatedPixels(near: e)
            if clipped > 0 {
                let p = solution.position(order: e.order, wavelength: e.wavelength)
                lines.append(LineFlux(wavelength: e.wavelength, order: e.order, x: p.x, y: p.y, fluxADU: .nan, fluxADUPerSecond: .nan,
                                      fluxElectronsPerSecond: .nan, peakSNR: m.peakSNR, fwhm: 0.5 * (m.fwhmX + m.fwhmY),
                                      saturatedPixels: clipped,
                                      flag: "saturated: \(clipped) pixel\(clipped == 1 ? "" : "s") at the detector's saturation level"))
                continue
            }
            guard m.quality == .good && m.peakSNR >= minimumSNR else { continue }
            lines.append(LineFlux(wavelength: e.wavelength, order: e.order, x: m.x, y: m.y, fluxADU: m.flux,
                                  fluxADUPerSecond: m.flux * perSecond, fluxElectronsPerSecond: m.flux * perSecond * gain,
                                  peakSNR: m.peakSNR, fwhm: 0.5 * (m.fwhmX + m.fwhmY)))
        }
        let measured = lines.filter { $0.saturatedPixels == 0 }
        let saturatedCount = lines.count - measured.count
        let rates = measured.map { Float($0.fluxADUPerSecond) }
        let metrics = [
            QCMeasurement("linesTotal", Double(entries.count), unit: "", "pinhole-map lines in the solution's orders"),
            QCMeasurement("linesMeasured", Double(measured.count), unit: "", "lines found with peak SNR ≥ minimumSNR, unsaturated"),
            QCMeasurement("linesMeasuredFraction", Double(measured.count) / Double(max(entries.count, 1)), unit: "", "measured / total"),
            QCMeasurement("linesSaturated", Double(saturatedCount), unit: "", "lines with a saturated pixel near their centre (flux not measurable)"),
            QCMeasurement("medianLineFluxADUPerSecond", RobustStatistics.median(rates), unit: "ADU/s", "median line flux"),
            QCMeasurement("maxLineFluxADUPerSecond", Double(rates.max() ?? .nan), unit: "ADU/s", "brightest line flux"),
        ]
        return Result(lines: lines, metrics: metrics)
    }
}
