import CalibCore
import FITS
import Foundation
import Recipes

/// What recipes downstream of the master bias read from it — or, on a detector without a
/// bias, from the set's lamp-off frames (`InputSpec.lampOff`), which take its place.
struct UpstreamBias {
    /// The master bias (or combined lamp-off frames), full raw width (science and overscan), ADU.
    var image: Image
    var readNoiseADU: Double
    /// `PixelFlag` bits over the light-sensitive area (hot columns), if the product has a BPM extension.
    var flags: [UInt8]?

    init(_ context: JobContext) throws {
        if context.calibrations[.masterBias] == nil, !context.lampOffInputs.isEmpty {
            let stack = try context.frameStack(try context.lampOffPaths)
            let result = try LampOffMaster().run(stack)
            image = result.image
            readNoiseADU = result.noiseADU
            flags = nil
            context.logger.info("lamp-off frames subtracted", metadata: ["frames": "\(result.frameCount)",
                                                                       "noise.adu": "\(String(format: "%.2f", result.noiseADU))"])
            return
        }
        guard let product = context.calibrations[.masterBias] else {
            throw PipelineError.inputMismatch("no MBIAS chosen and no lamp-off frames (inputs.lampOff) for this set")
        }
        let file = try FITSFile.open(product.path)
        defer { try? file.close() }
        try file.moveTo(hdu: try file.firstImageHDU())
        let shape = try file.imageShape()
        image = Image(width: shape[0], height: shape[1], pixels: try file.readImage(as: Float.self))
        readNoiseADU = try file.readHeader().double("ESO QC READ NOISE ADU") ?? 0
        if (try? file.moveTo(extensionName: "BPM")) != nil {
            flags = try file.readImage(as: Float.self).map { UInt8(max(0, min(255, $0))) }
        }
        context.logger.info("master bias", metadata: ["product.id": "\(product.id ?? -1)", "path": "\(product.path)"])
    }
}

/// The hot pixels and columns of an upstream master dark, when the job was planned with one.
struct UpstreamDarkFlags {
    /// `PixelFlag` bits over the light-sensitive area.
    var flags: [UInt8]
    var width: Int
    var height: Int

    init?(_ context: JobContext) throws {
        guard let product = context.calibrations[.masterDark] else { return nil }
        let file = try FITSFile.open(product.path)
        defer { try? file.close() }
        try file.moveTo(extensionName: "BPM")
        let shape = try file.imageShape()
        width = shape[0]; height = shape[1]
        flags = try file.readImage(as: Float.self).map { UInt8(max(0, min(255, $0))) }
        context.logger.info("master dark hot pixels", metadata: [
            "product.id": "\(product.id ?? -1)", "flagged": "\(flags.count { $0 & PixelFlag.bad != 0 })"])
    }
}

extension UpstreamDarkFlags {
    /// The bias's hot columns and, when the job was planned with a master dark, its hot pixels
    /// and columns: the map every master flat (one lamp or stitched) merges into its BPM.
    static func hotPixels(_ context: JobContext, bias: UpstreamBias, width: Int, height: Int) throws -> [UInt8]? {
        let hot = bias.flags.flatMap { $0.count == width * height ? $0 : nil }
        guard let dark = try UpstreamDarkFlags(context) else { return hot }
        guard dark.width == width && dark.height == height else {
            throw PipelineError.inputMismatch("MDARK is \(dark.width)×\(dark.height), the flats' science area \(width)×\(height)")
        }
        return zip(hot ?? [UInt8](repeating: 0, count: dark.flags.count), dark.flags).map { $0 | $1 }
    }
}

/// What every master flat (one lamp or stitched) reads: the flats with the
/// MBIAS subtracted over the light-sensitive columns, the order-centre trace,
/// the gain, and the hot-pixel map (`UpstreamDarkFlags.hotPixels`).
struct FlatInputs {
    var source: CorrectedFrames
    var centres: OrderGeometry
    var gain: Double
    var bias: UpstreamBias
    var hotPixels: [UInt8]?

    init(_ context: JobContext) throws {
        let stack = try context.frameStack(try context.inputPaths)
        let header = stack.headers[0]
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        gain = try DetectorGeometry.gain(header: header, layout: context.profile.detector, path: stack.paths[0])
        bias = try UpstreamBias(context)
        guard let centresProduct = context.calibrations[.orderCentres] else { throw PipelineError.inputMismatch("no ORDER_CENTRES chosen") }
        centres = try OrderTableFile.read(path: centresProduct.path)
        source = CorrectedFrames(stack, subtracting: bias.image, columns: regions.science)
        hotPixels = try UpstreamDarkFlags.hotPixels(context, bias: bias, width: source.width, height: source.height)
    }
}

extension JobContext {
    /// Frames on disk turned and windowed (`detector.orientation`, `detector.scienceRows`) as the profile says.
    func frameStack(_ paths: [String]) throws -> FITSFrameStack {
        try FITSFrameStack(paths: paths, orientation: profile.orientation(of:), rows: profile.scienceRows(of:))
    }

    var setup: Setup { (try? Setup(parsing: job.setup)) ?? Setup() }
    /// The recipe's parameters for this job's setup (`name[arm=…]` keys resolved).
    var parameters: [String: Double] { SetupScoped.parameters(spec.parameters, setup: setup) }
    var meanMJD: Double { inputs.compactMap(\.frame.mjdObs).reduce(0, +) / Double(max(inputs.count, 1)) }
    var exposureTimes: [Double] { inputs.map { $0.frame.exptime ?? 0 } }
}

extension ProductHDU {
    static func flags(_ flags: [UInt8], width: Int, height: Int, name: String = "BPM") -> ProductHDU {
        var header = FITSHeader()
        header.set("BPMBITS", .string("1 low-sens 2 hot 4 bad-col 8 order-edge 16 inter-order"), comment: "PixelFlag bits")
        return .image(Image(width: width, height: height, pixels: flags.map(Float.init)), name: name, header: header)
    }
}

/// The `mdark` recipe on files: bias-subtracted darks of one exposure time → dark current (e⁻/s/px) and hot pixels.
/// On a setup planned without an MBIAS (`upstreamBySetup`: a detector without a bias), the darks
/// are combined as they are: the master is offset plus dark signal in ADU, for its DIT and NDIT.
struct MasterDarkExecutor: RecipeExecutor {
    var name: String { MasterDark.name }
    var version: String { MasterDark.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try MasterDark(parameters: context.parameters)
        let stack = try context.frameStack(try context.inputPaths)
        let header = stack.headers[0]
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        let gain = try DetectorGeometry.gain(header: header, layout: context.profile.detector, path: stack.paths[0])
        guard gain > 0 else { throw PipelineError.configuration("no gain for the dark current in e-/s (detector.gainKey/defaultGain)") }
        let offsetIncluded = !context.spec.upstream(for: context.setup).contains(.masterBias) && context.calibrations[.masterBias] == nil
        let bias = offsetIncluded ? nil : try UpstreamBias(context)
        let times = Set(context.exposureTimes)
        guard times.count == 1, let t = times.first, t > 0 else {
            throw PipelineError.inputMismatch("darks must share one positive exposure time (got \(times.sorted()))")
        }
        let source = CorrectedFrames(stack, subtracting: bias?.image, columns: regions.science)
        // Without a bias, the clipping's noise floor is one dark's own noise (from the difference of two).
        let noise = try bias?.readNoiseADU ?? LampOffMaster.noise(source)
        let result = try recipe.run(source, exposureTime: t, gain: gain, readNoise: noise, offsetIncluded: offsetIncluded)
        context.logger.info("master dark", metadata: ["exptime": "\(t)", "hot.pixels": "\(result.hotPixels.count)",
                                                      "hot.columns": "\(result.hotColumns)"])
        var primary = FITSHeader()
        primary.set("BUNIT", .string(offsetIncluded ? "adu" : "electron/s"),
                    comment: offsetIncluded ? "offset and dark signal of one DIT" : "dark current per pixel")
        let w = result.darkCurrent.width, h = result.darkCurrent.height
        return [ProductOutput(type: .masterDark, hdus: [.image(result.darkCurrent, name: nil, header: primary),
                                                        .flags(result.flags, width: w, height: h)],
                              metrics: result.metrics, mjd: context.meanMJD)]
    }
}

/// The `ordertrace` recipe on files: bias-subtracted order-definition frame(s) → the ORDERS table.
struct OrderTraceExecutor: RecipeExecutor {
    var name: String { OrderTrace.name }
    var version: String { OrderTrace.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try OrderTrace(parameters: context.parameters)
        let stack = try context.frameStack(try context.inputPaths)
        let regions = try DetectorGeometry.regions(width: stack.width, header: stack.headers[0], layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        let bias = try UpstreamBias(context)
        let source = CorrectedFrames(stack, subtracting: bias.image, columns: regions.science)
        let image = source.frameCount == 1 ? try source.image(0)
            : try SigmaClippedStack().combine(source, noiseFloor: Float(bias.readNoiseADU)).image
        let result = try recipe.run(image)
        context.logger.info("orders traced", metadata: ["orders": "\(result.geometry.orders.first!)…\(result.geometry.orders.last!)",
                                                        "detections": "\(result.detections.count)"])
        return [ProductOutput(type: .orderCentres,
                              hdus: [.table(OrderTableFile.table(result.geometry), name: OrderTableFile.extensionName, header: FITSHeader())],
                              metrics: result.metrics, mjd: context.meanMJD,
                              attachments: [ProductAttachment(suffix: "_centres.svg", contents: QCPlots.orderCentres(result, width: image.width, height: image.height))])]
    }
}

/// The `mflat` recipe on files: bias-subtracted flats + order centres → normalised master flat, its error,
/// bad-pixel map and the ORDERS table with the edges.
struct MasterFlatExecutor: RecipeExecutor {
    var name: String { MasterFlat.name }
    var version: String { MasterFlat.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        if let lamps = InputSetPlanner.stitching(context.spec, setup: context.setup) {
            return try StitchedMasterFlatExecution.execute(context, lamps: lamps)
        }
        let recipe = try MasterFlat(parameters: StitchedMasterFlat.masterParameters(context.parameters))
        let inputs = try FlatInputs(context)
        let (source, centres, gain, bias, hot) = (inputs.source, inputs.centres, inputs.gain, inputs.bias, inputs.hotPixels)
        let result = try recipe.run(source, exposureTimes: context.exposureTimes, centres: centres, gain: gain.isNaN ? 1 : gain,
                                    readNoise: bias.readNoiseADU, hotPixels: hot)
        for (index, reason) in result.rejectedFrames {
            context.logger.warning("flat left out of the stack", metadata: [
                "frame": "\(context.inputs[index].frame.path)", "reason": "\(reason)"])
        }
        let w = result.flat.width, h = result.flat.height
        var primary = FITSHeader()
        primary.set("BUNIT", .string(""), comment: "normalised response (inner-order pixels ~1)")
        for (k, (index, reason)) in result.rejectedFrames.enumerated() {
            primary.set("CALIBD REJECT\(k + 1)", .string("\((context.inputs[index].frame.path as NSString).lastPathComponent): \(reason)"),
                        comment: "flat left out")
        }
        let plot = QCPlots.masterFlat(result, width: w, height: h)
        var hdus: [ProductHDU] = [.image(result.flat, name: nil, header: primary),
                                  .image(result.error, name: "ERR", header: FITSHeader()),
                                  .flags(result.flags, width: w, height: h),
                                  .table(OrderTableFile.table(result.geometry), name: OrderTableFile.extensionName, header: FITSHeader())]
        var attachments = [ProductAttachment(suffix: "_edges.svg", contents: plot)]
        // With subtractBackground, the fitted scattered light goes last (BKGND), so readers of the other HDUs are unaffected.
        if let background = result.background {
            var header = FITSHeader()
            header.set("BUNIT", .string("ADU"), comment: "fitted intra-order background, subtracted before normalising")
            hdus.append(.image(background, name: "BKGND", header: header))
            if let backgroundPlot = QCPlots.masterFlatBackground(result) {
                attachments.append(ProductAttachment(suffix: "_bkgnd.svg", contents: backgroundPlot))
            }
        }
        return [ProductOutput(type: .masterFlat, hdus: hdus, metrics: result.metrics, mjd: context.meanMJD,
                              attachments: attachments)]
    }
}
