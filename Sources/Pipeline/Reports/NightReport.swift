import CalibCore
import CalibDB
import Foundation

/// The plain-text summary a person on night duty reads after a batch run
/// or from `calibctl status`: frames, problems, jobs, and each product with
/// its QC against the configured ranges.
public struct NightReport: Sendable {
    public let database: any CalibrationRegistry

    public init(database: any CalibrationRegistry) { self.database = database }

    public func render(nights: [String]? = nil) throws -> String {
        var out = ""
        let frames = try database.frames()
        let nightsSeen = nights ?? Array(Set(frames.compactMap(\.frame.night))).sorted()
        for night in nightsSeen {
            let counts = try database.frameCounts(night: night)
            let text = counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            out += "Night \(night): \(counts.values.reduce(0, +)) frames (\(text))\n"
        }
        let problems = try database.frames(problemsOnly: true)
        if !problems.isEmpty {
            out += "\nFiles not usable (\(problems.count)):\n"
            for listing in problems.prefix(20) {
                out += "  \((listing.paths.first ?? listing.frame.path))\n      \(listing.frame.problem ?? "")\n"
            }
            if problems.count > 20 { out += "  … and \(problems.count - 20) more (calibctl frames --problems)\n" }
        }
        let jobs = try database.jobs()
        let byState = Dictionary(grouping: jobs, by: \.state).mapValues(\.count)
        out += "\nJobs: \(jobs.count) (" + JobState.allCases.compactMap { s in byState[s].map { "\(s.rawValue) \($0)" } }.joined(separator: ", ") + ")\n"
        for job in jobs where job.state == .failed || job.state == .qcFailed {
            out += "  job \(job.id!) \(job.recipe) \(job.night) \(job.setup): \(job.state.rawValue): \(job.reason ?? "")\n"
        }
        let products = try database.products(includeSuperseded: false)
        for product in products where nights == nil || nights!.contains(product.night) {
            out += "\n\(product.productType.rawValue)  \(product.night)  \(product.setup)  QC \(product.qcPassed ? "PASS" : "FAIL")\n"
            out += "  \(product.path)\n"
            for metric in try database.metrics(ofProduct: product.id!) {
                let value = metric.value.map { String(format: "%.4g", $0) } ?? "NaN"
                let range = (metric.rangeMin != nil || metric.rangeMax != nil)
                    ? "[\(metric.rangeMin.map { String(format: "%g", $0) } ?? "-inf"), \(metric.rangeMax.map { String(format: "%g", $0) } ?? "+inf")]"
                    : ""
                let verdict = range.isEmpty ? "" : (metric.passed ? "ok" : "OUT OF RANGE")
                out += "    " + metric.name.padding(toLength: 26, withPad: " ", startingAt: 0)
                    + value.padding(toLength: 12, withPad: " ", startingAt: 0)
                    + metric.unit.padding(toLength: 6, withPad: " ", startingAt: 0)
                    + range.padding(toLength: 20, withPad: " ", startingAt: 0) + verdict + "\n"
            }
        }
        return out
    }
}
