import CalibCore
import Dispatch
import FITS
import Foundation
import Recipes

/// The `moswave` recipe on files: one arc through the mask, bias subtracted; for every slit the
/// CRV model (`MOS_EDGES`) gives its centre column and the OPT model its row at λ_ref, whence its
/// central wavelength; lines are identified with no template and refined per slit
/// (`MultiSlitWavelengthSolution`). A slit that cannot be solved is reported, not fatal. The
/// product (IDS_MODEL) holds the arc, `MOS_WAVE` (λ(y) per slit at its centre column) and `MOS_LINES`;
/// with `traceAlongSlit` = 1 every slit's lines are also followed between its CRV edges (the
/// identification's `tilt…` parameters) and `MOS_TILT` holds each slit's Δy(x, y₀), pixels, so
/// that λ(x, y) = λ_c(y₀) where y₀ + Δy(x, y₀) = y.
struct MultiSlitWavelengthExecutor: RecipeExecutor {
    static let recipeName = "moswave"
    var name: String { Self.recipeName }
    var version: String { "1.0" }
    var staticFileSuffixes: [String] { [LongSlitWavelengthExecutor.lineListSuffix] }

    /// Parameters of this recipe on top of the identification's (`LongSlitWavelengthSolution`, whose
    /// `centralWavelength` is computed per slit from `referenceWavelength` and the OPT row).
    static let ownParameters: Set<String> = ["referenceWavelength", "refineWindow", "refineHalfColumns", "refineDegree",
                                             "blendDistance", "minimumLineAmplitude", "traceAlongSlit"]

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let all = context.spec.parameters
        let own = try ParameterReader(recipe: name, values: all.filter { Self.ownParameters.contains($0.key) }, known: Self.ownParameters)
        let referenceWavelength = try own.value("referenceWavelength", default: 4359.56, in: 1000...50000)
        let minimumAmplitude = try own.value("minimumLineAmplitude", default: 0, in: 0...1e12)
        let alongSlit = try own.value("traceAlongSlit", default: 0, in: 0...1) >= 0.5
        let identificationParameters = all.filter { !Self.ownParameters.contains($0.key) }
        let nominalDispersion = identificationParameters["nominalDispersion"] ?? 1
        let frames = try LongSlitFrames(context)
        guard let optPath = context.calibrations[.opticalModel]?.path, let crvPath = context.calibrations[.curvatureModel]?.path else {
            throw PipelineError.inputMismatch("moswave needs an OPT model and a CRV model for this arc")
        }
        let seeds = try OpticalModelFile.readSeeds(path: optPath)
        let edges = try Self.readEdges(path: crvPath)
        let listPath = ArcFrameLoader.staticPath(context: context, header: frames.header, suffix: LongSlitWavelengthExecutor.lineListSuffix)
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw PipelineError.configuration("line list \(listPath) is missing or unreadable")
        }
        let catalog = try LineCatalog.parse(text, source: listPath)
        let wavelengths = zip(catalog.wavelengths, catalog.amplitudes).filter { $0.1 >= minimumAmplitude }.map(\.0)
        let middle = Double(frames.image.height - 1) / 2
        var failures: [String] = []
        var tasks: [(id: String, centre: Double, recipe: MultiSlitWavelengthSolution,
                     low: PolynomialSurface, high: PolynomialSurface)] = []
        for seed in seeds {
            guard let ends = seed.ends, let slitEdges = edges[seed.id] else {
                failures.append("\(seed.id): not placed by the OPT model or not traced by the CRV model"); continue
            }
            let centre = (slitEdges.low.evaluate(middle, 0) + slitEdges.high.evaluate(middle, 0)) / 2
            let referenceRow = (ends[0].y + ends[1].y) / 2
            var parameters = identificationParameters
            parameters["centralWavelength"] = referenceWavelength + (middle - referenceRow) * nominalDispersion
            let identification = try LongSlitWavelengthSolution(parameters: parameters)
            var recipe = MultiSlitWavelengthSolution(
                identification: identification, window: Int(try own.value("refineWindow", default: 4, in: 2...20)),
                halfColumns: Int(try own.value("refineHalfColumns", default: 2, in: 0...50)),
                degree: Int(try own.value("refineDegree", default: 4, in: 1...9)),
                blendDistance: try own.value("blendDistance", default: 6, in: 0...100))
            if alongSlit { recipe.tilt = identification.tilt }
            tasks.append((seed.id, centre, recipe, slitEdges.low, slitEdges.high))
        }
        // Slits are independent: solved in parallel, each writing only its own slot.
        let arc = frames.image, jobs = tasks
        var outcomes = [Result<MultiSlitWavelengthSolution.Result, MultiSlitWavelengthSolution.Failure>?](repeating: nil, count: tasks.count)
        outcomes.withUnsafeMutableBufferPointer { slots in
            nonisolated(unsafe) let slots = slots
            RecipeParallelism.concurrentPerform(iterations: jobs.count) { k in
                do throws(MultiSlitWavelengthSolution.Failure) {
                    let low = jobs[k].low, high = jobs[k].high
                    slots[k] = .success(try jobs[k].recipe.run(arc, slitCentre: jobs[k].centre, catalog: wavelengths,
                                                               edges: (low: { low.evaluate($0, 0) }, high: { high.evaluate($0, 0) })))
                } catch {
                    slots[k] = .failure(error)
                }
            }
        }
        var solved: [(id: String, centre: Double, result: MultiSlitWavelengthSolution.Result)] = []
        for (task, outcome) in zip(tasks, outcomes) {
            switch outcome {
            case .success(let result): solved.append((task.id, task.centre, result))
            case .failure(let error): failures.append("\(task.id): \(error.description)")
            case nil: failures.append("\(task.id): not run")
            }
        }
        for failure in failures { context.logger.warning("slit not solved", metadata: ["reason": "\(failure)"]) }
        let solutions = FITSTable(columns: [
            .string(name: "SLIT", values: solved.map(\.id)),
            .double(name: "XCENTRE", values: solved.map(\.centre), unit: "pix"),
            .doubleVector(name: "DEG", values: solved.map { $0.result.polynomial.degrees.map(Double.init) }),
            .doubleVector(name: "OFFSET", values: solved.map { $0.result.polynomial.offsets }),
            .doubleVector(name: "HALFRANGE", values: solved.map { $0.result.polynomial.halfRanges }),
            .doubleVector(name: "COEFFS", values: solved.map { $0.result.polynomial.coefficients }, unit: "Angstrom"),
            .double(name: "RMS", values: solved.map(\.result.rmsPixels), unit: "pix"),
        ])
        let lines = solved.flatMap { s in s.result.lines.map { (s.id, $0) } }
        let lineTable = FITSTable(columns: [
            .string(name: "SLIT", values: lines.map(\.0)),
            .double(name: "WAVELENGTH", values: lines.map(\.1.wavelength), unit: "Angstrom"),
            .double(name: "ROW", values: lines.map(\.1.row), unit: "pix"),
            .double(name: "SNR", values: lines.map(\.1.snr)),
            .double(name: "RESIDUAL_PIX", values: lines.map(\.1.residualPixels), unit: "pix"),
            .bool(name: "USED", values: lines.map(\.1.used)),
        ])
        let tilted = solved.compactMap { s in s.result.tilt.map { (s.id, $0) } }
        let tiltTable = FITSTable(columns: [
            .string(name: "SLIT", values: tilted.map(\.0)),
            .doubleVector(name: "DEG", values: tilted.map { $0.1.surface.degrees.map(Double.init) }),
            .doubleVector(name: "OFFSET", values: tilted.map { $0.1.surface.offsets }),
            .doubleVector(name: "HALFRANGE", values: tilted.map { $0.1.surface.halfRanges }),
            .doubleVector(name: "COEFFS", values: tilted.map { $0.1.surface.coefficients }, unit: "pix"),
            .double(name: "RMS", values: tilted.map(\.1.rms), unit: "pix"),
            .double(name: "LINES", values: tilted.map { Double($0.1.linesTraced) }),
            .double(name: "MAXSHIFT", values: tilted.map(\.1.maximumShift), unit: "pix"),
        ])
        var header = FITSHeader()
        for failure in failures { header.addHistory("not solved: \(failure)") }
        let usedCounts = solved.map { Double($0.result.lines.filter(\.used).count) }
        let metrics = [
            QCMeasurement("slitsSolved", Double(solved.count), unit: "", "slits with a wavelength solution"),
            QCMeasurement("slitsExpected", Double(seeds.count), unit: "", "slits of the mask"),
            QCMeasurement("rmsPixelsMax", solved.map(\.result.rmsPixels).max() ?? .nan, unit: "px", "largest RMS of a slit's lines about its λ(y)"),
            QCMeasurement("linesUsedMin", usedCounts.min() ?? .nan, unit: "", "fewest lines used by a slit's solution"),
        ] + (alongSlit ? [
            QCMeasurement("slitsTraced", Double(tilted.count), unit: "", "slits whose lines were followed along the slit"),
            QCMeasurement("tiltRMSMax", tilted.map(\.1.rms).max() ?? .nan, unit: "px",
                          "largest RMS of a slit's traced line centres about its Δy(x, y₀)"),
        ] : [])
        return [ProductOutput(type: .inverseDispersionModel,
                              hdus: [.image(frames.image, name: "ARC", header: header),
                                     .table(solutions, name: "MOS_WAVE", header: FITSHeader()),
                                     .table(lineTable, name: "MOS_LINES", header: FITSHeader())]
                                  + (alongSlit ? [.table(tiltTable, name: "MOS_TILT", header: FITSHeader())] : []),
                              metrics: metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }

    /// Each slit's low and high edges x(y) from a CRV_MODEL's `MOS_EDGES` table.
    static func readEdges(path: String) throws -> [String: (low: PolynomialSurface, high: PolynomialSurface)] {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        try file.moveTo(extensionName: OpticalModelFile.edgeTableName)
        let table = try file.readTable()
        guard let slits = table.strings("SLIT"), let names = table.strings("EDGE"), let deg = table.doubleVectors("DEG"),
              let off = table.doubleVectors("OFFSET"), let half = table.doubleVectors("HALFRANGE"), let coeffs = table.doubleVectors("COEFFS") else {
            throw PipelineError.inputMismatch("\(path): the \(OpticalModelFile.edgeTableName) table lacks its columns")
        }
        var low: [String: PolynomialSurface] = [:], high: [String: PolynomialSurface] = [:]
        for k in slits.indices {
            let surface = PolynomialSurface(degrees: deg[k].map { Int($0) }, offsets: off[k], halfRanges: half[k], coefficients: coeffs[k])
            let id = slits[k].trimmingCharacters(in: .whitespaces)
            if names[k].trimmingCharacters(in: .whitespaces) == "LOW" { low[id] = surface } else { high[id] = surface }
        }
        var both: [String: (low: PolynomialSurface, high: PolynomialSurface)] = [:]
        for (id, l) in low { if let h = high[id] { both[id] = (l, h) } }
        return both
    }
}
