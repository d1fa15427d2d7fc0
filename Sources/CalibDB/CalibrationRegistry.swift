import CalibCore
import Foundation

/// The calibration registry as the daemon and `calibctl` use it, whichever
/// database holds it: the job queue (`JobQueue`), raw frames, products and
/// their QC metrics, the association inputs (candidates, pins, references),
/// control commands and the daemon's small state.
///
/// `CalibrationDatabase` (SQLite, the embedded default) implements it; the
/// PostgreSQL implementation lives in `CalibDBPostgres`. Each part is its own
/// protocol so a caller can ask for only what it uses, and so the contract
/// tests (`JobQueueContractTests`) can hold each backend to each part.
///
/// Not yet in here (still only on `CalibrationDatabase`, so still SQLite-only):
/// job inspection for `calibctl job show` (inputs, calibration choices,
/// events), crash and postponement bookkeeping, attempt timings, QC
/// re-evaluation, monitoring counts and the integrity check.
public typealias CalibrationRegistry = JobQueue & FrameRegistry & ProductRegistry & CalibrationLookup
    & ControlCommands & DaemonStateStore

/// Raw frames: identity by content checksum, every path the bytes were seen at.
public protocol FrameRegistry: Sendable {
    func frame(checksum: String) throws -> FrameRecord?
    func frame(id: Int64) throws -> FrameRecord?
    /// What is known of many paths, in one read.
    func knownPaths(_ paths: [String]) throws -> [String: KnownPath]
    /// Records a frame's content, or only the new path when the same bytes are known
    /// (dedupe by checksum, atomic between racing ingesters). A path that held other
    /// bytes before marks that frame replaced when it has no path left.
    func record(frame: FrameRecord, seenAt path: String, mtime: Double) throws -> (frame: FrameRecord, isNew: Bool)
    /// Several `record(frame:seenAt:mtime:)` in one transaction.
    func record(batch: [(frame: FrameRecord, path: String, mtime: Double)]) throws -> [(frame: FrameRecord, isNew: Bool)]
    /// Usable frames (status ok) of an instrument and nights, as the scheduler sees them.
    func frameSummaries(instrument: String?, nights: [String]?) throws -> [FrameSummary]
    func frameLamps() throws -> [String]
    /// Frames for listings, newest first (`recorded_at`, then id), with every path.
    func frames(night: String?, problemsOnly: Bool, limit: Int) throws -> [FrameListing]
    func frameCounts(night: String) throws -> [String: Int]
    func frameCount() throws -> Int
    /// Recorded paths under directory `roots` (no trailing slash).
    func recordedPaths(under roots: [String]) throws -> [String]
    /// Marks usable frames seen at `paths` deleted when none of their paths exists any more.
    func markDeleted(paths: [String], exists: (String) -> Bool, now: Date) throws -> [Int64]
    /// Every night a frame or a job names, oldest first.
    func recordedNights() throws -> [String]
}

/// Products and their QC metrics (products are created by `JobQueue.complete`).
public protocol ProductRegistry: Sendable {
    /// Products ordered by night, then id.
    func products(type: ProductType?, night: String?, includeSuperseded: Bool) throws -> [ProductRecord]
    func product(path: String) throws -> ProductRecord?
    func product(id: Int64) throws -> ProductRecord?
    /// A product's metrics ordered by name.
    func metrics(ofProduct id: Int64) throws -> [QCMetricRecord]
    /// QC passed, not superseded, of the instrument, whose setup satisfies `setup`.
    func usableProducts(type: ProductType, instrument: String?, setup: Setup) throws -> [ProductRecord]
    /// One metric across nights (ordered by night, setup, id); superseded products only when asked.
    func trend(metric: String, type: ProductType?, since: String?, includeSuperseded: Bool) throws
        -> [(product: ProductRecord, value: Double?)]
}

/// What the association engine reads (candidates, pins) and what a person
/// changes about it (pins, reference calibrations, availability).
/// `CalibrationAssociator` answers "best calibration, and why" from this alone,
/// so the answer's rules (`CalibrationAssociation`, `PinReview`) are the same code on every backend.
public protocol CalibrationLookup: Sendable {
    /// Products of a type and instrument within an MJD interval, every reference of that
    /// type, and the products `ids` (pinned); every product of the type when `mjd` is nil.
    func candidates(type: ProductType, instrument: String, mjd: ClosedRange<Double>?, including ids: [Int64]) throws
        -> [CalibrationCandidate]
    /// Pins in force for a night, newest first.
    func pins(type: ProductType, instrument: String, night: ObservingNight) throws -> [CalibrationPin]
    /// Pins in force with their id and creation time, by id.
    func pinListing() throws -> [(id: Int64, pin: CalibrationPin, createdAt: Date)]
    /// Writes a pin (whether it may be made is `PinReview`'s decision, taken before); returns its id.
    func addPin(productId: Int64, firstNight: ObservingNight, lastNight: ObservingNight, setup: Setup,
                note: String, by who: String, forcedOver: String?, now: Date) throws -> Int64
    /// Ends a pin; `ControlError` when no such pin is in force.
    func removePin(id: Int64, now: Date) throws
    func setReference(productId: Int64, _ isReference: Bool) throws
    func setAvailability(productId: Int64, _ availability: ProductRecord.Availability) throws
    func instruments(withProductsOf type: ProductType?) throws -> [String]
    func productSetups(type: ProductType, instrument: String) throws -> [Setup]
}

/// Requests a person makes through `calibctl` that change jobs.
public protocol ControlCommands: Sendable {
    func rerun(jobId: Int64, requestedBy who: String, now: Date) throws -> JobRecord
    func cancel(jobId: Int64, requestedBy who: String, now: Date) throws -> JobRecord
    func reprocess(night: String, recipe: String?, setup: Setup, force: Bool, requestedBy who: String,
                   now: Date) throws -> [JobRecord]
    func job(id: Int64) throws -> JobRecord?
    /// Jobs by id, optionally of a night and in some states.
    func jobs(night: String?, states: [JobState]?) throws -> [JobRecord]
    func jobCounts() throws -> [JobState: Int]
}

/// The daemon's small key/value state (`paused`, heartbeat, start time).
public protocol DaemonStateStore: Sendable {
    func setDaemonState(_ key: String, _ value: String, now: Date) throws
    func daemonState() throws -> [String: String]
    func isPaused() throws -> Bool
}

extension CalibrationDatabase: FrameRegistry, ProductRegistry, CalibrationLookup, ControlCommands, DaemonStateStore {}
