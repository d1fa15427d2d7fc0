import CalibDB
import Foundation

/// `calibctl job show --json` (`docs/schema/job-detail.schema.json`): the job,
/// its input frames, the calibrations it used and why, its products with
/// their QC, its history and the tail of its log, each in its entity's form.
public struct JobDetailJSON: Encodable, Sendable {
    public struct Calibration: Encodable, Sendable {
        public var type: String
        public var productId: Int64
        public var basis: String
        @Nullable public var level: Int?
        public var explanation: String
    }

    public struct Event: Encodable, Sendable {
        public var at: Date
        public var state: String
        @Nullable public var message: String?
    }

    /// One attempt's time by phase (`job_attempt_timing`), in seconds.
    public struct Attempt: Encodable, Sendable {
        public var attempt: Int
        public var wallSeconds: Double
        public var processSeconds: Double
        public var databaseSeconds: Double
        public var readSeconds: Double
        public var computeSeconds: Double
        public var writeSeconds: Double
        public var fsyncSeconds: Double
        public var otherSeconds: Double
        @Nullable public var peakRSSBytes: Int64?

        public init(_ t: JobTiming) {
            attempt = t.attempt; wallSeconds = t.wallSeconds; processSeconds = t.processSeconds; databaseSeconds = t.databaseSeconds
            readSeconds = t.readSeconds; computeSeconds = t.computeSeconds; writeSeconds = t.writeSeconds
            fsyncSeconds = t.fsyncSeconds; otherSeconds = t.unaccountedSeconds; peakRSSBytes = t.peakRSSBytes
        }
    }

    public var job: JobJSON
    public var inputs: [FrameJSON]
    public var calibrations: [Calibration]
    public var products: [ProductJSON]
    public var events: [Event]
    public var attempts: [Attempt]
    public var logPath: String
    public var log: String

    public init(job: JobRecord, inputs: [FrameListing], calibrations: [CalibrationDatabase.CalibrationChoiceRecord],
                products: [ProductJSON], events: [JobEventRecord], timings: [JobTiming] = [], logPath: String, log: String) {
        self.attempts = timings.map(Attempt.init)
        self.job = JobJSON(job); self.inputs = inputs.map(FrameJSON.init); self.products = products
        self.calibrations = calibrations.map {
            Calibration(type: $0.type.rawValue, productId: $0.productId, basis: $0.basis, level: $0.level, explanation: $0.explanation)
        }
        self.events = events.map { Event(at: $0.at, state: $0.state.rawValue, message: $0.message) }
        self.logPath = logPath; self.log = log
    }
}
