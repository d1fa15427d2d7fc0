import CalibCore
import CalibDB
import FITS
import Foundation
import Recipes

/// The primary-header cards every product carries: what it is, which recipe
/// and version made it from which raw frames (names and checksums) and
/// calibrations, with which parameters, and its QC — ESO's `PRO` and `QC`
/// keyword conventions, so existing tools read them.
enum ProvenanceHeader {
    static let software = "calibd 0.1.0"

    static func make(type: ProductType, job: JobRecord, executor: any RecipeExecutor, spec: RecipeSpec,
                     inputs: [FrameListing], calibrations: [ProductType: ProductRecord],
                     metrics: [QCMetricDraft], summaries: [QCMeasurement]) -> FITSHeader {
        var h = FITSHeader()
        h.set("INSTRUME", .string(job.instrument), comment: "instrument the calibration is for")
        h.set("ORIGIN", .string(software), comment: "pipeline that made this product")
        h.set("DATE", .string(ISO8601DateFormatter().string(from: Date())), comment: "UTC time the product was written")
        h.set("ESO PRO CATG", .string(type.rawValue), comment: "product category")
        h.set("ESO PRO TYPE", .string("REDUCED"), comment: "product type")
        h.set("ESO PRO REC1 ID", .string(executor.name), comment: "recipe")
        h.set("ESO PRO REC1 DRS ID", .string(software), comment: "data reduction system")
        h.set("ESO PRO REC1 VERSION", .string(executor.version), comment: "recipe version")
        h.set("CALIBD JOB ID", .integer(job.id!), comment: "calibd job that made this product")
        h.set("CALIBD NIGHT", .string(job.night), comment: "observing night (local noon to noon)")
        h.set("CALIBD SETUP", .string(job.setup), comment: "instrument setup")
        for (i, listing) in inputs.enumerated() {
            let n = i + 1
            h.set("ESO PRO REC1 RAW\(n) NAME", .string((listing.frame.path as NSString).lastPathComponent), comment: "raw input")
            h.set("ESO PRO REC1 RAW\(n) CATG", .string(listing.frame.frameType.rawValue), comment: "raw input type")
            h.set("CALIBD RAW\(n) SHA256", .string(listing.frame.checksum), comment: "raw input checksum")
        }
        for (i, (productType, product)) in calibrations.sorted(by: { $0.key.rawValue < $1.key.rawValue }).enumerated() {
            h.set("ESO PRO REC1 CAL\(i + 1) NAME", .string((product.path as NSString).lastPathComponent), comment: "calibration used")
            h.set("ESO PRO REC1 CAL\(i + 1) CATG", .string(productType.rawValue), comment: "calibration type")
            h.set("CALIBD CAL\(i + 1) ID", .integer(product.id!), comment: "calibration product id")
        }
        for (i, (name, value)) in spec.parameters.sorted(by: { $0.key < $1.key }).enumerated() {
            h.set("ESO PRO REC1 PARAM\(i + 1) NAME", .string(name), comment: "recipe parameter")
            h.set("ESO PRO REC1 PARAM\(i + 1) VALUE", .real(value), comment: "")
        }
        for metric in metrics {
            let summary = summaries.first { $0.name == metric.name }?.summary ?? ""
            let unit = metric.unit.isEmpty ? "" : "[\(metric.unit)] "
            h.set("ESO QC \(qcKeyword(metric.name))", metric.value.isNaN ? .undefined : .real(metric.value),
                  comment: "\(unit)\(summary)")
        }
        h.set("CALIBD QC PASSED", .logical(metrics.allSatisfy(\.passed)), comment: "every QC metric within its configured range")
        return h
    }

    /// `readNoiseADU` → `READ NOISE ADU`.
    static func qcKeyword(_ name: String) -> String {
        var words: [String] = []
        var current = ""
        var previousWasUpper = false
        for ch in name {
            let isUpper = ch.isUppercase || ch.isNumber
            if isUpper && !previousWasUpper && !current.isEmpty { words.append(current); current = "" }
            current.append(ch)
            previousWasUpper = isUpper
        }
        if !current.isEmpty { words.append(current) }
        return words.joined(separator: " ").uppercased()
    }
}
