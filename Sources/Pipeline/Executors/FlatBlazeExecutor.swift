import CalibCore
import CalibDB
import FITS
import Foundation
import Recipes

/// The `flatblaze` recipe on files: raw flats of a setup, the MBIAS and the
/// order geometry (the MFLAT's ORDERS table when it carries edges, else the
/// ORDER_CENTRES one) in; FLAT, BLAZE and E2DS products out, each an
/// orders × pixels image with the order numbers and per-order QC in an
/// `ORDERQC` table, the geometry used in `ORDERS`, and an SVG QC plot.
struct FlatBlazeExecutor: RecipeExecutor {
    var name: String { FlatBlaze.name }
    var version: String { FlatBlaze.version }

    /// Image extensions of an MFLAT that may hold its bad-pixel map (non-zero = bad), tried in order.
    static let badPixelExtensions = ["BADPIX", "BPM", "BADPIXELS"]

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try FlatBlaze(parameters: context.parameters)
        let stack = try context.frameStack(try context.inputPaths)
        let regions = try DetectorGeometry.regions(width: stack.width, header: stack.headers[0], layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        // The master bias, or on a detector without one the flats' lamp-off frames.
        let bias = try UpstreamBias(context).image
        guard bias.width == stack.width, bias.height == stack.height else {
            throw PipelineError.inputMismatch("the master bias (or lamp-off frames) is \(bias.width)×\(bias.height), the flats \(stack.width)×\(stack.height)")
        }
        let (geometry, geometrySource) = try Self.orderGeometry(context.calibrations)
        let mask = context.calibrations[.masterFlat].flatMap { Self.badPixelMask($0.path, regions: regions, height: stack.height) }
        let saturation = Float(context.profile.saturationADU(of: stack.headers[0]) ?? 65535)
        context.logger.info("reducing flats", metadata: [
            "frames": "\(stack.frameCount)", "size": "\(stack.width)x\(stack.height)", "orders": "\(geometry.orders.count)",
            "geometry": "\(geometrySource)", "badPixelMask": "\(mask == nil ? "none" : "from MFLAT")",
        ])
        let reduction = try recipe.reduce(flats: stack, bias: bias, regions: regions, saturationADU: saturation,
                                          geometry: geometry, badPixels: mask)
        let result = reduction.result
        let skip = Set(context.spec.qcSkipOrders)
        for report in result.failedOrders(skipping: skip) {
            context.logger.warning("order fails QC", metadata: ["order": "\(report.order)", "reason": "\(report.notes.joined(separator: "; "))"])
        }
        let mjd = context.inputs.compactMap(\.frame.mjdObs).reduce(0, +) / Double(max(context.inputs.count, 1))
        let orderMetrics = result.metrics(skipping: skip)
        func metric(_ name: String) -> QCMeasurement { orderMetrics.first { $0.name == name }! }
        let flaggedRows = reduction.extraction.flaggedRows.reduce(0, +)
        let extractedRows = reduction.extraction.spectra.pixels.count
        let e2dsMetrics = [
            reduction.lampMetric,
            QCMeasurement("flaggedRowFraction", Double(flaggedRows) / Double(max(extractedRows, 1)), unit: "",
                          "rows of all orders the extraction flagged (saturated or masked beyond estimation, or off the detector)"),
            QCMeasurement("orderCount", Double(result.orders.count), unit: "", "orders extracted"),
        ]
        let tables = Self.tables(result, extraction: reduction.extraction, geometry: geometry, skip: skip)
        var header = FITSHeader()
        header.set("NORDERS", .integer(Int64(result.orders.count)), comment: "image rows = orders, see table ORDERQC")
        header.set("ORDMIN", .integer(Int64(result.orders.first ?? 0)), comment: "first physical order (image row 1)")
        header.set("ORDMAX", .integer(Int64(result.orders.last ?? 0)), comment: "last physical order")
        header.set("CALIBD GEOMETRY", .string(geometrySource), comment: "order geometry used for extraction")
        let plots = QCPlots(result: result, e2ds: reduction.extraction.spectra, skip: skip)

        func product(_ type: ProductType, _ image: Image, _ metrics: [QCMeasurement], plot: String) -> ProductOutput {
            ProductOutput(type: type, hdus: [.image(image, name: nil, header: header)] + tables, metrics: metrics, mjd: mjd,
                          attachments: [ProductAttachment(suffix: "_qc.svg", contents: Data(plot.utf8))])
        }
        return [
            product(.flat, result.flat, [metric("flatStdMax"), metric("failedOrderCount"), reduction.lampMetric], plot: plots.flat()),
            product(.blaze, result.blaze, [metric("failedOrderCount"), metric("fallbackOrderCount"), metric("blazeResidualMax"),
                                           reduction.lampMetric], plot: plots.blaze()),
            product(.e2ds, reduction.extraction.spectra, e2dsMetrics, plot: plots.extracted()),
        ]
    }

    static func tables(_ result: FlatBlaze.Result, extraction: OrderExtraction.Result, geometry: OrderGeometry,
                       skip: Set<Int>) -> [ProductHDU] {
        let r = result.reports
        let qc = FITSTable(columns: [
            .int64(name: "ORDER", values: result.orders.map(Int64.init)),
            .double(name: "FLAT_STD", values: r.map(\.flatStd)),
            .double(name: "BLAZE_RMS", values: r.map(\.blazeResidual)),
            .bool(name: "FALLBACK", values: r.map(\.usedFallback)),
            .int64(name: "FLAGGED_ROWS", values: extraction.flaggedRows.map(Int64.init)),
            .int64(name: "REPLACED_PIX", values: extraction.replacedPixels.map(Int64.init)),
            .bool(name: "QC_SKIPPED", values: result.orders.map { skip.contains($0) }),
            .bool(name: "QC_PASSED", values: r.map(\.passed)),
            .string(name: "NOTES", values: r.map { $0.notes.isEmpty ? "-" : $0.notes.joined(separator: "; ") }),
            .doubleVector(name: "SINC_PARAMS", values: r.map { s in
                s.sinc.map { [$0.amplitude, $0.period, $0.centre, $0.quadratic, $0.cubic, $0.slope] } ?? [Double](repeating: .nan, count: 6)
            }),
        ])
        return [.table(qc, name: "ORDERQC", header: FITSHeader()),
                .table(OrderTableFile.table(geometry), name: OrderTableFile.extensionName, header: FITSHeader())]
    }

    static func readPrimaryImage(_ path: String) throws -> Image {
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        _ = try file.moveTo(hdu: try file.firstImageHDU())
        let shape = try file.imageShape()
        guard shape.count == 2 else { throw PipelineError.inputMismatch("\(path): expected a 2D image, NAXIS = \(shape.count)") }
        return Image(width: shape[0], height: shape[1], pixels: try file.readImage(as: Float.self))
    }

    /// The MFLAT's order table when it has edges, else ORDER_CENTRES's, and which one.
    static func orderGeometry(_ calibrations: [ProductType: ProductRecord]) throws -> (OrderGeometry, String) {
        var tried: [String] = []
        for type in [ProductType.masterFlat, .orderCentres] {
            guard let product = calibrations[type] else { continue }
            let geometry = try OrderTableFile.read(path: product.path)
            if geometry.lowerEdge != nil && geometry.upperEdge != nil { return (geometry, type.rawValue) }
            tried.append("\(type.rawValue) (\(product.path)) has no edge polynomials")
        }
        throw PipelineError.inputMismatch("no order table with traced edges: "
            + (tried.isEmpty ? "neither MFLAT nor ORDER_CENTRES is among the upstream calibrations" : tried.joined(separator: "; ")))
    }

    /// The MFLAT's bad-pixel map (`PixelFlag` bits) as a science-area mask of defects, if it has one of `badPixelExtensions`.
    static func badPixelMask(_ path: String, regions: DetectorRegions, height: Int) -> [Bool]? {
        guard let file = try? FITSFile.open(path) else { return nil }
        defer { try? file.close() }
        for name in badPixelExtensions {
            guard (try? file.moveTo(extensionName: name)) != nil, let shape = try? file.imageShape(), shape.count == 2,
                  shape[1] == height, let pixels = try? file.readImage(as: Float.self) else { continue }
            let image = Image(width: shape[0], height: shape[1], pixels: pixels)
            let science = image.width == regions.science.count ? image : (image.width >= regions.science.upperBound
                ? image.cropped(x: regions.science, y: 0..<height) : nil)
            // Only defects are bad for extraction; the order-edge and inter-order
            // bits only say the response was not measured there.
            return science.map { $0.pixels.map { UInt8(clamping: Int($0)) & PixelFlag.bad != 0 } }
        }
        return nil
    }

    /// The QC figures: data with the fitted blaze, and the flat, per order.
    struct QCPlots {
        var result: FlatBlaze.Result
        var e2ds: Image
        var skip: Set<Int>

        func row(_ image: Image, _ k: Int) -> [Float] { Array(image.pixels[(k * image.width)..<((k + 1) * image.width)]) }

        func note(_ k: Int) -> String {
            let r = result.reports[k]
            let skipped = skip.contains(r.order) ? "QC skipped. " : ""
            return skipped + (r.notes.isEmpty ? String(format: "flat σ %.4f, blaze rms %.4f", r.flatStd, r.blazeResidual) : r.notes.joined(separator: "; "))
        }

        func blaze() -> String {
            OrderPanelPlot(title: "E2DS flat (black) and fitted blaze (red) per order", panels: result.orders.indices.map { k in
                .init(title: "order \(result.orders[k])\(result.reports[k].usedFallback ? " (fallback)" : "")",
                      series: [.init(label: "E2DS", values: row(e2ds, k), colour: "#000"),
                               .init(label: "blaze", values: row(result.blaze, k), colour: "#d22")],
                      passed: result.reports[k].passed || skip.contains(result.orders[k]), note: note(k), yRange: nil)
            }).svg()
        }

        /// The extracted flux alone, so that the E2DS product's plot shows the E2DS (its level and flagged
        /// rows), not the blaze fit, which has its own product and plot.
        func extracted() -> String {
            OrderPanelPlot(title: "E2DS: extracted flat flux per order (ADU)", panels: result.orders.indices.map { k in
                let values = row(e2ds, k).filter(\.isFinite).sorted()
                let median = values.isEmpty ? Float.nan : values[values.count / 2]
                let flagged = row(e2ds, k).count - values.count
                return .init(title: "order \(result.orders[k])", series: [.init(label: "E2DS", values: row(e2ds, k), colour: "#000")],
                             passed: true, note: String(format: "median %.4g ADU, %d rows not extracted", median, flagged), yRange: nil)
            }).svg()
        }

        func flat() -> String {
            OrderPanelPlot(title: "Flat (E2DS / blaze) per order, y from 0.9 to 1.1", panels: result.orders.indices.map { k in
                .init(title: "order \(result.orders[k])", series: [.init(label: "flat", values: row(result.flat, k), colour: "#236")],
                      passed: result.reports[k].passed || skip.contains(result.orders[k]), note: note(k), yRange: 0.9...1.1)
            }).svg()
        }
    }
}
