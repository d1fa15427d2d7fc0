import CalibCore
import Foundation

/// The long-slit wavelength solution (IDS model, one slit): lines found in the arc spectrum
/// along the slit centre, identified automatically against a laboratory list
/// (`LineIdentification`), and λ(y) fitted as a polynomial in the dispersion coordinate.
///
/// Frames in calibd's orientation (x along the slit, y = dispersion); the arc is bias
/// subtracted. The spectrum is the median over ±`apertureHalfWidth` columns around the slit
/// centre, so that the line tilt (below 0.1 px over such an aperture on Kast) does not
/// broaden the lines. Wavelengths in Å (the catalog's unit), positions in pixels.
public struct LongSlitWavelengthSolution: Sendable {
    public static let name = "longslit_wave"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "nominalDispersion", "dispersionTolerance", "maxCurvature", "direction", "centralWavelength", "centralWavelengthTolerance",
        "detectionThreshold", "lineHalfWidth", "continuumWidth", "lineSlopedBackground", "voteTolerance", "candidateWindow", "inlierTolerance", "growthTolerance",
        "growthMinimumSNR",
        "maxCandidateLines", "degree", "clipSigma", "apertureHalfWidth", "firstRow", "lastRow",
        "tiltColumnStep", "tiltEdgeMargin", "tiltMinimumSNR", "tiltSpatialDegree", "tiltSpectralDegree",
    ]

    public var identification: LineIdentification
    public var finder: ArcLineFinder
    public var tilt: ArcLineTilt
    public var apertureHalfWidth: Int
    public var firstRow: Int
    public var lastRow: Int

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let reader = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        var id = LineIdentification(
            nominalDispersion: try reader.value("nominalDispersion", default: 1, in: 1e-4...1e4),
            centralWavelength: try reader.value("centralWavelength", default: 5000, in: 1...1e6),
            centralWavelengthTolerance: try reader.value("centralWavelengthTolerance", default: 200, in: 0.01...1e5))
        id.dispersionTolerance = try reader.value("dispersionTolerance", default: 0.08, in: 0.001...0.5)
        id.maxCurvature = try reader.value("maxCurvature", default: 5e-5, in: 0...1)
        id.direction = Int(try reader.value("direction", default: 0, in: -1...1))
        id.voteTolerance = try reader.value("voteTolerance", default: 4, in: 0.5...50)
        id.candidateWindow = try reader.value("candidateWindow", default: 15, in: 1...200)
        id.inlierTolerance = try reader.value("inlierTolerance", default: 0.5, in: 0.05...10)
        id.growthTolerance = try reader.value("growthTolerance", default: 3, in: 0...50)
        id.growthMinimumSNR = try reader.value("growthMinimumSNR", default: 20, in: 0...1e6)
        id.maxCandidateLines = Int(try reader.value("maxCandidateLines", default: 40, in: 4...200))
        id.degree = Int(try reader.value("degree", default: 3, in: 1...9))
        id.clipSigma = try reader.value("clipSigma", default: 3, in: 1...20)
        identification = id
        finder = ArcLineFinder(threshold: try reader.value("detectionThreshold", default: 8, in: 1...1000),
                               halfWidth: Int(try reader.value("lineHalfWidth", default: 3, in: 2...20)),
                               continuumWidth: Int(try reader.value("continuumWidth", default: 51, in: 5...1001)),
                               slopedBackground: try reader.value("lineSlopedBackground", default: 0, in: 0...1) >= 0.5)
        var tilt = ArcLineTilt()
        tilt.columnStep = Int(try reader.value("tiltColumnStep", default: 4, in: 1...100))
        tilt.edgeMargin = try reader.value("tiltEdgeMargin", default: 3, in: 0...1000)
        tilt.minimumSNR = try reader.value("tiltMinimumSNR", default: 30, in: 1...1e6)
        tilt.spatialDegree = Int(try reader.value("tiltSpatialDegree", default: 2, in: 1...5))
        tilt.spectralDegree = Int(try reader.value("tiltSpectralDegree", default: 2, in: 0...5))
        tilt.halfWidth = finder.halfWidth
        tilt.slopedBackground = finder.slopedBackground
        tilt.clipSigma = id.clipSigma
        self.tilt = tilt
        apertureHalfWidth = Int(try reader.value("apertureHalfWidth", default: 25, in: 0...1000))
        firstRow = Int(try reader.value("firstRow", default: 0, in: 0...1e6))
        lastRow = Int(try reader.value("lastRow", default: -1, in: -1...1e6))
    }

    public struct Result: Sendable {
        /// λ(y) with y the frame row (not the offset from `firstRow`).
        public var solution: LineIdentification.Solution
        public var lines: [ArcLinePeak]
        public var rows: ClosedRange<Int>
        public var metrics: [QCMeasurement]
        /// The lines' lean along the slit; nil when no slit edges were given.
        public var tilt: ArcLineTilt.Result?
        /// Wavelength at the slit centre's row `y` (frame rows).
        public func wavelength(atRow y: Double) -> Double { solution.wavelength(at: y - Double(rows.lowerBound)) }
        /// Wavelength of pixel (x, y), following the tilted line through it back to the slit centre.
        public func wavelength(x: Double, y: Double) -> Double {
            wavelength(atRow: tilt?.centreRow(x: x, y: y) ?? y)
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// - Parameters:
    ///   - arc: bias-subtracted arc, oriented.
    ///   - slitCentre: column of the slit centre (from the slit edges).
    ///   - catalog: laboratory wavelengths of the lamps that were on.
    ///   - edges: the slit's edges x(y) (the CRV model), to follow the lines along the slit; nil: the solution at the centre only.
    public func run(_ arc: Image, slitCentre: Double, catalog: [Double],
                    edges: (left: @Sendable (Double) -> Double, right: @Sendable (Double) -> Double)? = nil) throws(Failure) -> Result {
        let last = lastRow < 0 ? arc.height - 1 : min(lastRow, arc.height - 1)
        guard firstRow < last else { throw Failure(description: "rows \(firstRow)...\(last) leave no spectrum") }
        let centre = Int(slitCentre.rounded())
        let columns = max(0, centre - apertureHalfWidth)..<min(arc.width, centre + apertureHalfWidth + 1)
        guard !columns.isEmpty else { throw Failure(description: "slit centre \(slitCentre) is outside the frame's \(arc.width) columns") }
        let spectrum = ArcLineFinder.spectrum(arc, columns: columns, rows: firstRow..<(last + 1))
        let lines = finder.find(in: spectrum)
        let solution: LineIdentification.Solution
        do {
            solution = try identification.identify(lines, catalog: catalog, pixelCount: spectrum.count)
        } catch {
            throw Failure(description: "\(lines.count) arc lines found, identification failed: \(error)")
        }
        let n = Double(spectrum.count - 1)
        let used = solution.used
        let covered = (used.map(\.wavelength).min() ?? .nan, used.map(\.wavelength).max() ?? .nan)
        let metrics = [
            QCMeasurement("linesDetected", Double(lines.count), unit: "", "arc lines above the detection threshold along the slit centre"),
            QCMeasurement("linesUsed", Double(used.count), unit: "", "lines identified and kept by the clipped fit"),
            QCMeasurement("rmsPixels", solution.rmsPixels, unit: "px", "RMS of the used lines about the solution, in pixels"),
            QCMeasurement("rmsWavelength", solution.rmsWavelength, unit: "Angstrom", "RMS of the used lines about the solution"),
            QCMeasurement("wavelengthStart", solution.wavelength(at: 0), unit: "Angstrom", "wavelength of the first traced row"),
            QCMeasurement("wavelengthEnd", solution.wavelength(at: n), unit: "Angstrom", "wavelength of the last traced row"),
            QCMeasurement("dispersionCentre", abs(solution.dispersion(at: n / 2)), unit: "Angstrom/px", "|dλ/dy| at the middle row"),
            QCMeasurement("lineCoverageStart", covered.0, unit: "Angstrom", "bluest line used"),
            QCMeasurement("lineCoverageEnd", covered.1, unit: "Angstrom", "reddest line used"),
        ]
        var result = Result(solution: solution, lines: lines, rows: firstRow...last, metrics: metrics)
        if let edges {
            let offset = Double(firstRow)
            let traced = used.map { (row: $0.position + offset, snr: lines[$0.line].snr) }
            do {
                let lean = try tilt.run(arc, lines: traced, centre: slitCentre, left: edges.left, right: edges.right)
                result.tilt = lean
                result.metrics += [
                    QCMeasurement("tiltRMS", lean.rms, unit: "px", "RMS of the line centres along the slit about the tilt surface"),
                    QCMeasurement("tiltLinesTraced", Double(lean.linesTraced), unit: "", "lines followed along the slit"),
                    QCMeasurement("tiltMaximumShift", lean.maximumShift, unit: "px", "largest shift of a line along the slit from its centre row"),
                ]
            } catch {
                throw Failure(description: "the lines could not be followed along the slit: \(error)")
            }
        }
        return result
    }
}
