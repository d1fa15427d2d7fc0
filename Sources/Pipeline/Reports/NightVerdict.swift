import CalibCore
import Foundation

/// The answer to the morning question — are tonight's calibrations all there
/// and good, and if not, what is missing and why — as one value, so that
/// `calibctl night`, `calibctl status`, the `calibd --once` summary, the
/// daemon's "night complete" log line and the HTML report all say the same
/// thing in the same words.
///
/// Built by `NightVerdictBuilder` from the database and the configuration:
/// one `ExpectedProduct` per recipe of the instrument profile and setup the
/// night's frames have (a flat/blaze job's FLAT, BLAZE and E2DS count as one,
/// the recipe's), each with its outcome.
public struct NightVerdict: Sendable, Codable, Equatable {
    /// What became of one expected product.
    public enum Outcome: String, Sendable, Codable, CaseIterable {
        /// Made, and every ranged QC metric inside its range.
        case passed
        /// Made, but a QC metric is out of range: `failedMetrics` say which.
        case qcFailed = "qc_failed"
        /// The job failed (or was cancelled); `reason` is its error.
        case failed
        /// Queued, running, or waiting for frames to settle or an upstream job: may still come.
        case waiting
        /// Cannot be made from what was recorded: frames missing, or an upstream calibration that cannot exist.
        case notPossible = "not_possible"
    }

    /// A QC metric outside its configured range, with the range it was judged against.
    public struct MetricFailure: Sendable, Codable, Equatable, CustomStringConvertible {
        public var productType: ProductType
        public var name: String
        /// nil when the metric could not be measured (NaN), which always fails.
        public var value: Double?
        public var unit: String
        public var min: Double?
        public var max: Double?

        public init(productType: ProductType, name: String, value: Double?, unit: String, min: Double?, max: Double?) {
            self.productType = productType; self.name = name; self.value = value; self.unit = unit; self.min = min; self.max = max
        }

        /// "rejectedFrames=3 outside [-inf, 1]"
        public var description: String {
            let shown = value.map { String(format: "%.4g", $0) } ?? "NaN"
            let range = "[\(min.map { String(format: "%g", $0) } ?? "-inf"), \(max.map { String(format: "%g", $0) } ?? "+inf")]"
            return "\(name)=\(shown)\(unit.isEmpty ? "" : " \(unit)") outside \(range)"
        }
    }

    /// A product the job made (current, not superseded).
    public struct MadeProduct: Sendable, Codable, Equatable {
        public var id: Int64
        public var type: ProductType
        public var path: String
        public var qcPassed: Bool
    }

    /// One recipe over one setup of the night, and what became of it.
    public struct ExpectedProduct: Sendable, Codable, Equatable {
        public var instrument: String
        public var recipe: String
        /// The recipe's main product type (the profile's `product:`).
        public var productType: ProductType
        /// The input set's setup as the job records it (`arm=RED binx=1 …`).
        public var setup: String
        public var outcome: Outcome
        /// Why it is not passed, in the planner's, the association engine's or the job's words; nil when passed.
        public var reason: String?
        /// The job that made or is making it, if any.
        public var jobId: Int64?
        public var products: [MadeProduct]
        public var failedMetrics: [MetricFailure]

        public init(instrument: String, recipe: String, productType: ProductType, setup: String, outcome: Outcome, reason: String?,
                    jobId: Int64?, products: [MadeProduct], failedMetrics: [MetricFailure]) {
            self.instrument = instrument; self.recipe = recipe; self.productType = productType; self.setup = setup
            self.outcome = outcome; self.reason = reason; self.jobId = jobId; self.products = products; self.failedMetrics = failedMetrics
        }

        /// "mflat arm=BLUE binx=1 …"
        public var label: String { setup.isEmpty ? recipe : "\(recipe) \(setup)" }
    }

    /// A file of the night that could not be used, and why.
    public struct UnusableFile: Sendable, Codable, Equatable {
        public var frameId: Int64
        public var path: String
        public var reason: String

        public init(frameId: Int64, path: String, reason: String) { self.frameId = frameId; self.path = path; self.reason = reason }
    }

    public var night: String
    public var items: [ExpectedProduct]
    public var unusableFiles: [UnusableFile]
    /// Usable frames recorded for the night.
    public var frameCount: Int
    /// True when nothing more can run for the night: no job of it queued,
    /// running or waiting, and no expected product waiting for frames or an
    /// upstream job. The daemon logs `summaryLine` when a night becomes settled.
    public var isSettled: Bool

    public init(night: String, items: [ExpectedProduct], unusableFiles: [UnusableFile], frameCount: Int, isSettled: Bool) {
        self.night = night; self.items = items; self.unusableFiles = unusableFiles
        self.frameCount = frameCount; self.isSettled = isSettled
    }

    public func items(_ outcome: Outcome) -> [ExpectedProduct] { items.filter { $0.outcome == outcome } }

    /// Everything expected was made and passed QC, and nothing more will run.
    /// A night with nothing expected is not complete: its frames made nothing.
    public var isComplete: Bool { !items.isEmpty && isSettled && items.allSatisfy { $0.outcome == .passed } }

    /// The items a person has to look at: everything not passed.
    public var notPassing: [ExpectedProduct] { items.filter { $0.outcome != .passed } }
}
