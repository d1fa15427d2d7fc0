import CalibCore
import FITS
import Foundation
import Recipes

/// A stitched input set without one of its lamps: the same inputs will fail the same way,
/// so the job fails at once with the reason (new flats of the missing lamp make a new job).
struct MissingLampFailure: Error, CustomStringConvertible, PermanentRecipeFailure {
    let description: String
}

/// The `mflat` recipe for an arm lit by two lamps (`inputs.stitch` and a `stitchOrder`
/// for the job's setup): one MFLAT product holding the stitched master and, as extensions,
/// each lamp's own master and order table.
///
/// HDUs: primary = stitched normalised flat; `ERR`, `BPM`, `ORDERS` of the stitched
/// master (edges re-derived on the stitched stack, the table downstream recipes read);
/// then per lamp `FLAT_<lamp>` (its normalised flat over its orders and the stitch order)
/// and `ORDERS_<lamp>` (its edges). QC plots: `_edges.svg` (stitched) and
/// `_edges_<lamp>.svg`. The measured factor, the applied factor and the stitch order are
/// QC metrics (`stitchScale`, `stitchScaleApplied`, `stitchOrder`) and primary-header
/// cards (`CALIBD STITCH SCALE`, `… APPLIED`, `… ORDER`, `… LAMPS`).
enum StitchedMasterFlatExecution {
    static func execute(_ context: JobContext, lamps: LampStitch) throws -> [ProductOutput] {
        let recipe = try StitchedMasterFlat(parameters: context.parameters)
        let blueIndices = context.inputs.indices.filter { context.inputs[$0].frame.lamp == lamps.blue }
        let redIndices = context.inputs.indices.filter { context.inputs[$0].frame.lamp == lamps.red }
        guard !blueIndices.isEmpty, !redIndices.isEmpty else {
            let (present, missing) = blueIndices.isEmpty ? (redIndices.count, lamps.blue) : (blueIndices.count, lamps.red)
            throw MissingLampFailure(description: "stitching at order \(recipe.stitchOrder) is configured for \(context.setup.restricted(to: ["arm"])) "
                + "but the night has \(present) \(blueIndices.isEmpty ? lamps.red : lamps.blue) flats and no \(missing) flats; "
                + "no master flat is made from one lamp (flats of \(missing) arriving later make a new job)")
        }
        let inputs = try FlatInputs(context)
        let (source, centres, gain, bias, hot) = (inputs.source, inputs.centres, inputs.gain, inputs.bias, inputs.hotPixels)
        let times = context.exposureTimes
        let result = try recipe.run(blue: source.subset(blueIndices), blueExposureTimes: blueIndices.map { times[$0] },
                                    red: source.subset(redIndices), redExposureTimes: redIndices.map { times[$0] },
                                    lamps: lamps, centres: centres, gain: gain.isNaN ? 1 : gain,
                                    readNoise: bias.readNoiseADU, hotPixels: hot)
        // Rejected frames are indexed over the blue lamp's frames, then the red lamp's.
        let order = blueIndices + redIndices
        let rejected = result.stitched.rejectedFrames.map { (input: order[$0.index], reason: $0.reason) }
        for (input, reason) in rejected {
            context.logger.warning("flat left out of the stack", metadata: ["frame": "\(context.inputs[input].frame.path)", "reason": "\(reason)"])
        }
        context.logger.info("master flat stitched", metadata: [
            "stitch.order": "\(result.stitchOrder)", "scale": "\(result.scale)", "applied": "\(result.appliedScale)",
            "\(lamps.blue).orders": "\(result.blueOrders)", "\(lamps.red).orders": "\(result.redOrders)"])

        let stitched = result.stitched
        let w = stitched.flat.width, h = stitched.flat.height
        var primary = FITSHeader()
        primary.set("BUNIT", .string(""), comment: "normalised response (inner-order pixels ~1)")
        primary.set("CALIBD STITCH LAMPS", .string("\(lamps.blue) above, \(lamps.red) at and below"), comment: "lamps of the stitched orders")
        primary.set("CALIBD STITCH ORDER", .integer(Int64(result.stitchOrder)), comment: "stitch order (from the red lamp)")
        primary.set("CALIBD STITCH SCALE", .real(result.scale), comment: "measured \(lamps.red)/\(lamps.blue) flux ratio")
        primary.set("CALIBD STITCH APPLIED", .real(result.appliedScale), comment: "factor applied to \(lamps.blue)")
        for (k, (input, reason)) in rejected.enumerated() {
            primary.set("CALIBD REJECT\(k + 1)", .string("\((context.inputs[input].frame.path as NSString).lastPathComponent): \(reason)"),
                        comment: "flat left out")
        }
        var hdus: [ProductHDU] = [
            .image(stitched.flat, name: nil, header: primary),
            .image(stitched.error, name: "ERR", header: FITSHeader()),
            .flags(stitched.flags, width: w, height: h),
            .table(OrderTableFile.table(stitched.geometry), name: OrderTableFile.extensionName, header: FITSHeader()),
        ]
        let seam = stride(from: 0, to: h, by: max(1, h / 128)).map { (result.boundary[$0], Double($0)) }
        var attachments = [ProductAttachment(suffix: "_edges.svg", contents: QCPlots.masterFlat(stitched, width: w, height: h, stitch: seam))]
        for lamp in [result.blue, result.red] {
            var header = FITSHeader()
            header.set("CALIBD LAMP", .string(lamp.lamp), comment: "this lamp's own master flat")
            header.set("CALIBD ORDERS", .string(lamp.geometry.orders.map(String.init).joined(separator: " ")), comment: "orders traced")
            hdus.append(.image(lamp.flat, name: "FLAT_\(lamp.lamp)", header: header))
            hdus.append(.table(OrderTableFile.table(lamp.geometry), name: "\(OrderTableFile.extensionName)_\(lamp.lamp)", header: header))
            attachments.append(ProductAttachment(suffix: "_edges_\(lamp.lamp).svg", contents: QCPlots.masterFlat(lamp.asResult, width: w, height: h)))
        }
        // The background is fitted once, on the stitched stack (per-lamp masters mask only their own orders).
        if let background = stitched.background {
            var header = FITSHeader()
            header.set("BUNIT", .string("ADU"), comment: "fitted intra-order background, subtracted before normalising")
            hdus.append(.image(background, name: "BKGND", header: header))
            if let plot = QCPlots.masterFlatBackground(stitched) { attachments.append(ProductAttachment(suffix: "_bkgnd.svg", contents: plot)) }
        }
        return [ProductOutput(type: .masterFlat, hdus: hdus, metrics: stitched.metrics, mjd: context.meanMJD, attachments: attachments)]
    }

}
