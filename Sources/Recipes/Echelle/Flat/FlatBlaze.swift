import CalibCore
import Dispatch
import Foundation

/// Flat and blaze per order, after APERO's `apero_flat` (Cook et al. 2022,
/// PASP 134, 114509): the extracted (E2DS) combined flat of each order is
/// median-filtered (`medianWidth` px), pixels below `lowFraction` or above
/// `highFraction` × its 95th-percentile flux are dropped, and a
/// `SincBlazeModel` is fitted by `SincBlazeFit`. The blaze is that model over
/// the order; the flat is E2DS / blaze, with values outside 1 ± `flatTolerance`
/// or beyond `outlierSigma` robust σ of the order's flat set to NaN; the
/// flat's standard deviation per order is its QC figure.
///
/// When the sinc fit fails or is poor for an order — the solver fails, its
/// relative RMS against the filtered data exceeds `maxSincResidual`, or the
/// model dips towards zero where the data do not (a wrong period puts a
/// sinc² zero inside the order; APERO issues #714, #750) — the order's blaze
/// is a σ-clipped polynomial of degree `fallbackDegree` in the row instead,
/// and the order is reported as a fallback with the reason. An order that
/// cannot be fitted at all gets NaN blaze and flat and fails QC; the night
/// goes on.
///
/// Units: E2DS and blaze in ADU (per the combined frame's exposure); the flat
/// is dimensionless. NaN pixels of the E2DS (flagged rows) are ignored by the
/// fits and stay NaN in the flat.
public struct FlatBlaze: Sendable {
    public static let name = "flatblaze"
    public static let version = "1.0"
    public static let parameterNames: Set<String> = [
        "medianWidth", "lowFraction", "highFraction", "maxSincResidual", "fallbackDegree", "outlierSigma",
        "flatTolerance", "maxOrderFlatStd", "maxOrderFlaggedFraction", "edgeMarginFraction", "profileHalfRows",
        "maxReplacedFraction", "combineClipSigma",
    ]

    public var medianWidth: Int
    public var lowFraction: Double
    public var highFraction: Double
    public var maxSincResidual: Double
    public var fallbackDegree: Int
    public var outlierSigma: Double
    public var flatTolerance: Double
    /// Per-order limits: an order over either fails QC (reason recorded).
    public var maxOrderFlatStd: Double
    public var maxOrderFlaggedFraction: Double
    public var extraction: OrderExtraction
    public var stack: SigmaClippedStack
    public var sincFit = SincBlazeFit()

    public init(parameters: [String: Double]) throws(RecipeParameterError) {
        let r = try ParameterReader(recipe: Self.name, values: parameters, known: Self.parameterNames)
        medianWidth = Int(try r.value("medianWidth", default: 25, in: 1...501))
        lowFraction = try r.value("lowFraction", default: 0.05, in: 0...1)
        highFraction = try r.value("highFraction", default: 2, in: 1...100)
        maxSincResidual = try r.value("maxSincResidual", default: 0.01, in: 1e-5...1)
        fallbackDegree = Int(try r.value("fallbackDegree", default: 10, in: 1...20))
        outlierSigma = try r.value("outlierSigma", default: 10, in: 1...1000)
        flatTolerance = try r.value("flatTolerance", default: 0.2, in: 1e-3...10)
        maxOrderFlatStd = try r.value("maxOrderFlatStd", default: 0.05, in: 1e-5...10)
        maxOrderFlaggedFraction = try r.value("maxOrderFlaggedFraction", default: 0.05, in: 0...1)
        extraction = OrderExtraction(
            edgeMarginFraction: try r.value("edgeMarginFraction", default: 0.15, in: 0...2),
            profileHalfRows: Int(try r.value("profileHalfRows", default: 4, in: 1...100)),
            maxReplacedFraction: try r.value("maxReplacedFraction", default: 0.25, in: 0...1))
        stack = SigmaClippedStack(sigma: try r.value("combineClipSigma", default: 5, in: 1...50), iterations: 3)
    }

    /// How one order came out.
    public struct OrderReport: Sendable, Equatable {
        public var order: Int
        /// Standard deviation of the order's flat after the outlier cut (NaN when nothing is left).
        public var flatStd: Double
        /// RMS of (filtered data − blaze)/blaze over the fitted pixels.
        public var blazeResidual: Double
        public var usedFallback: Bool
        public var flaggedFraction: Double
        /// Why the sinc was not used, or why the order fails; empty when neither.
        public var notes: [String]
        public var passed: Bool
        public var sinc: SincBlazeModel?
    }

    public struct Result: Sendable {
        public var orders: [Int]
        public var blaze: Image
        public var flat: Image
        public var reports: [OrderReport]
    }

    /// Fits the blaze and derives the flat of every order of an extracted flat.
    /// - Parameter flaggedRows: per order, rows the extraction flagged (for QC).
    public func run(e2ds: Image, orders: [Int], flaggedRows: [Int]? = nil) -> Result {
        precondition(e2ds.height == orders.count)
        let length = e2ds.width
        var blaze = [Float](repeating: .nan, count: e2ds.pixels.count)
        var flat = blaze
        var reports = [OrderReport?](repeating: nil, count: orders.count)
        blaze.withUnsafeMutableBufferPointer { blazeOut in
            flat.withUnsafeMutableBufferPointer { flatOut in
                reports.withUnsafeMutableBufferPointer { reportsOut in
                    nonisolated(unsafe) let blazeOut = blazeOut, flatOut = flatOut, reportsOut = reportsOut
                    RecipeParallelism.concurrentPerform(iterations: orders.count) { k in
                        let row = Array(e2ds.pixels[(k * length)..<((k + 1) * length)])
                        let (b, f, report) = processOrder(row, order: orders[k], flaggedRows: flaggedRows?[k] ?? 0)
                        for i in 0..<length { blazeOut[k * length + i] = b[i]; flatOut[k * length + i] = f[i] }
                        reportsOut[k] = report
                    }
                }
            }
        }
        return Result(orders: orders, blaze: Image(width: length, height: orders.count, pixels: blaze),
                      flat: Image(width: length, height: orders.count, pixels: flat), reports: reports.map { $0! })
    }

    func processOrder(_ data: [Float], order: Int, flaggedRows: Int) -> (blaze: [Float], flat: [Float], report: OrderReport) {
        let n = data.count
        var blaze = [Float](repeating: .nan, count: n), flat = blaze
        let finite = data.indices.filter { data[$0].isFinite }
        let span = finite.isEmpty ? 0 : finite.last! - finite.first! + 1 + flaggedRows
        let flaggedFraction = span > 0 ? Double(flaggedRows) / Double(max(span, 1)) : 1
        var report = OrderReport(order: order, flatStd: .nan, blazeResidual: .nan, usedFallback: false,
                                 flaggedFraction: flaggedFraction, notes: [], passed: false, sinc: nil)
        guard finite.count >= 3 * medianWidth, let first = finite.first, let last = finite.last else {
            report.notes.append("only \(finite.count) extracted pixels")
            return (blaze, flat, report)
        }
        let filtered = RunningMedian.filter(data, width: medianWidth)
        var levels = filtered.filter(\.isFinite)
        let p95 = RobustStatistics.percentileInPlace(&levels, 95)
        guard p95 > 0 else {
            report.notes.append("no flux (95th percentile \(p95))")
            return (blaze, flat, report)
        }
        // Median-filtered neighbours within a fifth of the filter width carry
        // almost the same information; fitting every such point costs time, not accuracy.
        let stride = max(1, medianWidth / 5)
        var positions: [Double] = [], values: [Double] = []
        for i in Swift.stride(from: first, through: last, by: stride) where filtered[i].isFinite {
            let v = Double(filtered[i])
            if v >= lowFraction * p95 && v <= highFraction * p95 { positions.append(Double(i)); values.append(v) }
        }

        var model: ((Double) -> Double)?
        do {
            let fit = try sincFit.fit(positions: positions, values: values)
            let floor = 0.5 * lowFraction * p95
            let dips = positions.contains { fit.model.evaluate($0) < floor }
            if fit.relativeRMS > maxSincResidual {
                report.notes.append(String(format: "sinc fit poor (relative rms %.4f > %.4f)", fit.relativeRMS, maxSincResidual))
            } else if dips {
                report.notes.append("sinc fit falls to zero inside the order (period \(Int(fit.model.period)) px)")
            } else {
                model = { fit.model.evaluate($0) }
                report.sinc = fit.model
                report.blazeResidual = fit.relativeRMS
            }
        } catch {
            report.notes.append("sinc fit failed: \(error)")
        }
        if model == nil {
            report.usedFallback = true
            do {
                let polynomial = try PolynomialSurfaceFit(degrees: [0, fallbackDegree], clipSigma: 3, maxIterations: 5)
                    .fit(points: positions.map { [0, $0] }, values: values)
                let surface = polynomial.surface
                model = { surface.evaluate(0, $0) }
                var sum = 0.0
                for (i, x) in positions.enumerated() { let m = surface.evaluate(0, x); sum += pow((values[i] - m) / m, 2) }
                report.blazeResidual = (sum / Double(max(positions.count, 1))).squareRoot()
                report.notes.append("blaze from a clipped degree-\(fallbackDegree) polynomial")
            } catch {
                report.notes.append("fallback polynomial failed too: \(error)")
                return (blaze, flat, report)
            }
        }
        let evaluate = model!
        for i in first...last {
            let b = evaluate(Double(i))
            blaze[i] = Float(b)
            if data[i].isFinite && b > 0 { flat[i] = data[i] / Float(b) }
        }
        // APERO's outlier cut: beyond outlierSigma robust σ, or outside 1 ± flatTolerance.
        let (centre, sigma) = RobustStatistics.madSigma(flat)
        for i in first...last where flat[i].isFinite {
            let f = Double(flat[i])
            if abs(f - 1) > flatTolerance || (sigma > 0 && abs(f - centre) > outlierSigma * sigma) { flat[i] = .nan }
        }
        report.flatStd = RobustStatistics.meanAndStandardDeviation(flat).sd
        if !(report.flatStd <= maxOrderFlatStd) {
            report.notes.append(String(format: "flat σ %.4f > %.4f", report.flatStd, maxOrderFlatStd))
        }
        if flaggedFraction > maxOrderFlaggedFraction {
            report.notes.append(String(format: "%.1f%% of rows flagged in extraction (saturated or masked pixels) > %.1f%%",
                                       100 * flaggedFraction, 100 * maxOrderFlaggedFraction))
        }
        report.passed = report.flatStd <= maxOrderFlatStd && flaggedFraction <= maxOrderFlaggedFraction
        return (blaze, flat, report)
    }
}

extension FlatBlaze.Result {
    /// Orders that failed, with their reasons, leaving out `skipOrders`.
    public func failedOrders(skipping skipOrders: Set<Int> = []) -> [FlatBlaze.OrderReport] {
        reports.filter { !$0.passed && !skipOrders.contains($0.order) }
    }

    /// QC figures over orders, leaving out `skipOrders`:
    /// `flatStdMax` (worst order's flat σ), `failedOrderCount`, `fallbackOrderCount`
    /// and `blazeResidualMax`; summaries name the orders and reasons.
    public func metrics(skipping skipOrders: Set<Int> = []) -> [QCMeasurement] {
        let judged = reports.filter { !skipOrders.contains($0.order) }
        let worst = judged.max { a, b in (a.flatStd.isNaN ? .infinity : a.flatStd) < (b.flatStd.isNaN ? .infinity : b.flatStd) }
        let flatStdMax = judged.contains { $0.flatStd.isNaN } ? Double.nan : (worst?.flatStd ?? .nan)
        let failed = judged.filter { !$0.passed }
        let fallback = judged.filter(\.usedFallback)
        let residualMax = judged.map(\.blazeResidual).filter { !$0.isNaN }.max() ?? .nan
        func list(_ reports: [FlatBlaze.OrderReport]) -> String {
            reports.isEmpty ? "none" : reports.map { "order \($0.order): \($0.notes.joined(separator: ", "))" }.joined(separator: "; ")
        }
        let skipped = skipOrders.isEmpty ? "" : " (orders \(skipOrders.sorted().map(String.init).joined(separator: ", ")) skipped)"
        return [
            QCMeasurement("flatStdMax", flatStdMax, unit: "",
                          "largest per-order σ of the flat, order \(worst.map { String($0.order) } ?? "-")\(skipped)"),
            QCMeasurement("failedOrderCount", Double(failed.count), unit: "", "orders failing per-order QC: \(list(failed))"),
            QCMeasurement("fallbackOrderCount", Double(fallback.count), unit: "",
                          "orders whose blaze is not the sinc model: \(list(fallback))"),
            QCMeasurement("blazeResidualMax", residualMax, unit: "", "largest RMS of (filtered E2DS − blaze)/blaze over an order"),
        ]
    }
}

extension FlatBlaze {
    /// Everything the recipe makes from raw flats.
    public struct Reduction: Sendable {
        /// Bias-subtracted, level-scaled combination, science columns only (ADU).
        public var combined: Image
        public var extraction: OrderExtraction.Result
        public var result: FlatBlaze.Result
        /// Each frame's lamp level (ADU, 95th percentile) before scaling.
        public var frameLevels: [Double]
        /// (max − min)/median of `frameLevels`: a flickering or failing lamp.
        public var lampLevelSpread: Double
    }

    /// Bias-subtracts and combines the raw flats (each scaled to the frames'
    /// mean level, so a lamp that varies between exposures does not bias the
    /// σ-clipping), extracts the orders and fits blaze and flat.
    /// - Parameters:
    ///   - geometry: order traces in science-area columns (x = 0 at `regions.science.lowerBound`).
    ///   - badPixels: science-area mask (true = bad), optional.
    public func reduce(flats: any FrameStripSource, bias: Image?, regions: DetectorRegions, saturationADU: Float,
                       geometry: OrderGeometry, badPixels: [Bool]? = nil) throws -> Reduction {
        let calibrated = CalibratedFrames(raw: flats, bias: bias, saturationADU: saturationADU)
        let levels = try calibrated.levels(columns: regions.science)
        let mean = levels.reduce(0, +) / Double(levels.count)
        let scale = levels.map { Float($0 > 0 ? mean / $0 : 1) }
        let (full, _) = try stack.combine(calibrated, scale: scale)
        let combined = full.cropped(x: regions.science, y: 0..<full.height)
        let extracted = try extraction.extract(combined, badPixels: badPixels, geometry: geometry)
        let result = run(e2ds: extracted.spectra, orders: extracted.orders, flaggedRows: extracted.flaggedRows)
        let sorted = levels.sorted()
        let median = sorted.count % 2 == 1 ? sorted[sorted.count / 2] : 0.5 * (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2])
        let spread = median > 0 ? (sorted.last! - sorted.first!) / median : .nan
        return Reduction(combined: combined, extraction: extracted, result: result, frameLevels: levels, lampLevelSpread: spread)
    }
}

extension FlatBlaze.Reduction {
    /// `lampLevelSpread` as a QC figure, naming the frame levels.
    public var lampMetric: QCMeasurement {
        QCMeasurement("lampLevelSpread", lampLevelSpread, unit: "",
                      "(max − min)/median lamp level of the flats; levels " + frameLevels.map { String(Int($0.rounded())) }.joined(separator: ", ") + " ADU")
    }
}
