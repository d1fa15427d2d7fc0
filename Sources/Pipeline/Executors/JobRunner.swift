import CalibCore
import CalibDB
import Dispatch
import FITS
import Foundation
import Glibc
import Logging
import Recipes

/// Runs claimed jobs: gathers inputs and upstream calibrations, runs the
/// recipe off the cooperative thread pool, writes products atomically,
/// judges QC, and records the outcome fenced by the job's lease.
public struct JobRunner: Sendable {
    public let configuration: CalibdConfiguration
    public let database: any CalibrationRegistry
    public let logger: Logger
    /// A lease is extended every third of this while the recipe runs.
    public var leaseSeconds: TimeInterval = 60

    public init(configuration: CalibdConfiguration, database: any CalibrationRegistry, logger: Logger) {
        self.configuration = configuration; self.database = database; self.logger = logger
    }

    /// Logs each environmental fault once (nil: log them at debug level only,
    /// as a recipe process does, whose parent logs them once for the daemon).
    public var faultNotices: FaultNoticeBoard? = FaultNoticeBoard()

    /// How one attempt ended, as a recipe process reports it to the daemon.
    public struct AttemptReport: Sendable, Codable, Equatable {
        /// The job's state afterwards (`running` if nothing could be recorded).
        public var state: JobState
        /// Set when the attempt was postponed, or could not be recorded, because of its surroundings.
        public var fault: String?
        /// The fault's kind and path, so the daemon can log a lasting fault once.
        public var faultKey: String?
        /// Where the attempt's time went, as measured in the process that ran it (nil when it never ran the recipe).
        public var timing: JobTiming?

        public init(state: JobState, fault: String? = nil, faultKey: String? = nil, timing: JobTiming? = nil) {
            self.state = state; self.fault = fault; self.faultKey = faultKey; self.timing = timing
        }
    }

    /// Runs one claimed job to its end and returns its final state.
    @discardableResult
    public func run(_ job: JobRecord) async -> JobState {
        var report = await attempt(job)
        // In the daemon's own process there is no process to start and no peak of the job's own to tell.
        report.timing?.peakRSSBytes = nil
        if let timing = report.timing { try? database.record(timing: timing) }
        return report.state
    }

    /// Runs one claimed job to its end and reports how it ended.
    public func attempt(_ job: JobRecord) async -> AttemptReport {
        var jobLogger = logger
        if let file = try? FileLogHandler(path: logPath(of: job), permissions: WorkspacePermissions(configuration: configuration)) {
            let base = logger
            jobLogger = Logger(label: "calibd.job") { label in
                MultiplexLogHandler([LoggerHandlerBox(base), file])
            }
        }
        jobLogger[metadataKey: "job.id"] = "\(job.id!)"
        jobLogger[metadataKey: "job.recipe"] = "\(job.recipe)"
        jobLogger[metadataKey: "night"] = "\(job.night)"
        jobLogger[metadataKey: "setup"] = "\(job.setup)"
        jobLogger.info("job started", metadata: ["attempt": "\(job.attempts)"])
        let started = Date()
        let heartbeat = Task { [database, leaseSeconds] in
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(leaseSeconds / 3))
                if Task.isCancelled { break }
                try? database.heartbeat(job: job, lease: leaseSeconds)
            }
        }
        defer { heartbeat.cancel() }
        var written: [String] = []
        var timing = JobTiming(jobId: job.id!, attempt: job.attempts)
        let clockStart = Self.seconds()
        do {
            var mark = Self.seconds()
            let context = try makeContext(job, logger: jobLogger)
            let executor = try RecipeCatalog.executor(named: job.recipe)
            timing.databaseSeconds += Self.seconds() - mark
            // Reads happen inside the recipe, strip by strip: cfitsio's own clock tells them from the arithmetic.
            let readBefore = FITSIOClock.readSeconds
            mark = Self.seconds()
            let outputs = try await Self.offload { try executor.execute(context) }
            let executeSeconds = Self.seconds() - mark
            timing.readSeconds = FITSIOClock.readSeconds - readBefore
            timing.computeSeconds = max(0, executeSeconds - timing.readSeconds)
            var drafts: [ProductDraft] = []
            var failures: [String] = []
            for output in outputs {
                let (draft, failed, writeTiming) = try write(output, context: context, executor: executor)
                written.append(draft.path)
                drafts.append(draft)
                failures += failed
                timing.writeSeconds += writeTiming.writeSeconds
                timing.fsyncSeconds += writeTiming.fsyncSeconds
            }
            let outcome: JobOutcome = failures.isEmpty ? .succeeded : .qcFailed("QC out of range: " + failures.joined(separator: "; "))
            mark = Self.seconds()
            try database.complete(job: job, outcome: outcome, products: drafts)
            timing.databaseSeconds += Self.seconds() - mark
            timing.wallSeconds = Self.seconds() - clockStart
            let elapsed = String(format: "%.2f", Date().timeIntervalSince(started))
            jobLogger.info("job finished", metadata: [
                "state": "\(failures.isEmpty ? "succeeded" : "qc_failed")", "seconds": "\(elapsed)",
                "phases": "\(timing.phases.filter { $0.name != "process" }.map { "\($0.name) \(String(format: "%.3f", $0.seconds))" }.joined(separator: ", "))",
            ])
            faultNotices?.clear()
            return AttemptReport(state: failures.isEmpty ? .succeeded : .qcFailed, timing: timing)
        } catch let error as LeaseLostError {
            // Cancelled, or taken over after a stall: whatever this attempt
            // wrote is not recorded and must not linger on disk.
            for path in written where (try? database.product(path: path)) == nil { unlink(path) }
            jobLogger.warning("result discarded", metadata: ["error": "\(error)"])
            return AttemptReport(state: (try? database.job(id: job.id!))?.state ?? .cancelled)
        } catch let error where EnvironmentalFault.classify(error, database: database.displayLocation) != nil {
            let fault = EnvironmentalFault.classify(error, database: database.displayLocation)!
            return postpone(job, fault: fault, logger: jobLogger)
        } catch {
            let backoff = min(600, 5 * pow(2, Double(max(job.attempts - 1, 0))))
            jobLogger.error("job failed", metadata: ["error": "\(error)", "attempt": "\(job.attempts)"])
            do {
                try database.fail(job: job, error: "\(error)", retryAfter: backoff, permanent: error is PermanentRecipeFailure)
            } catch let recordError {
                jobLogger.error("could not record the failure", metadata: ["error": "\(recordError)"])
                if let fault = EnvironmentalFault.classify(recordError, database: database.displayLocation) {
                    return AttemptReport(state: .running, fault: fault.description, faultKey: "\(fault.kind.rawValue) \(fault.path)")
                }
            }
            return AttemptReport(state: (try? database.job(id: job.id!))?.state ?? .failed)
        }
    }

    /// Re-queues an attempt stopped by its surroundings without counting it,
    /// with back-off, and logs the fault once (with its path and remedy).
    func postpone(_ job: JobRecord, fault: EnvironmentalFault, logger jobLogger: Logger) -> AttemptReport {
        let key = "\(fault.kind.rawValue) \(fault.path)"
        let postponements = (try? database.postponementCount(ofJob: job.id!)) ?? 0
        let delay = EnvironmentalFault.retryDelay(postponements: postponements)
        if faultNotices?.isNew(fault) ?? false {
            logger.error("jobs wait for the environment to recover", metadata: ["fault": "\(fault)", "path": "\(fault.path)"])
        } else {
            jobLogger.debug("job postponed", metadata: ["fault": "\(fault)", "retry.seconds": "\(Int(delay))"])
        }
        do {
            try database.postpone(job: job, reason: fault.description, retryAfter: delay)
            return AttemptReport(state: .queued, fault: fault.description, faultKey: key)
        } catch {
            // The database itself may be the fault: the daemon records the postponement once it can.
            jobLogger.debug("could not record the postponement", metadata: ["error": "\(error)"])
            return AttemptReport(state: .running, fault: fault.description, faultKey: key)
        }
    }

    public func logPath(of job: JobRecord) -> String {
        (configuration.logsDirectory as NSString).appendingPathComponent("\(job.night)/job-\(job.id!)-\(job.recipe).log")
    }

    func makeContext(_ job: JobRecord, logger: Logger) throws -> JobContext {
        guard let profile = configuration.profiles.first(where: { $0.name == job.instrument }) else {
            throw PipelineError.configuration("no instrument profile named \(job.instrument)")
        }
        guard let spec = profile.recipe(named: job.recipe) else {
            throw PipelineError.configuration("profile \(profile.name) has no recipe \(job.recipe)")
        }
        let all = try database.inputs(ofJob: job.id!)
        // Lamp-off frames planned with the set are its offset, not frames to combine.
        let isLampOff = { (listing: FrameListing) in
            spec.inputs.lampOff?.admits(type: listing.frame.frameType, lamp: listing.frame.lamp) ?? false
        }
        let inputs = all.filter { !isLampOff($0) }, lampOff = all.filter(isLampOff)
        // The calibrations the job was planned with are part of its identity: use exactly those.
        let calibrations = try database.calibrations(ofJob: job.id!)
        let setup = (try? Setup(parsing: job.setup)) ?? Setup()
        for type in spec.upstream(for: setup) where calibrations[type] == nil {
            throw PipelineError.inputMismatch("job \(job.id!) was planned without a \(type.rawValue)")
        }
        for (type, product) in calibrations where !FileManager.default.fileExists(atPath: product.path) {
            throw PipelineError.inputMismatch("\(type.rawValue) product \(product.id!) is missing from disk: \(product.path)")
        }
        return JobContext(job: job, spec: spec, profile: profile, inputs: inputs, calibrations: calibrations, logger: logger,
                          lampOffInputs: lampOff)
    }

    /// Writes one product with its provenance and QC, returning the draft to
    /// record and the metrics that failed.
    func write(_ output: ProductOutput, context: JobContext, executor: any RecipeExecutor) throws -> (ProductDraft, [String], ProductWriter.Timing) {
        let started = Self.seconds()
        let job = context.job
        let setup = (try? Setup(parsing: job.setup)) ?? Setup()
        let judged = output.metrics.map { m in
            QCMetricDraft(name: m.name, value: m.value, unit: m.unit, range: SetupScoped.qcRange(context.spec.qc, metric: m.name, setup: setup))
        }
        let failed = judged.filter { !$0.passed }.map { "\($0.name) = \(Self.format($0.value)) outside \($0.range!)" }
        let provenance = ProvenanceHeader.make(
            // The lamp-off frames subtracted are raw inputs of the product too (RAWn CATG DARK).
            type: output.type, job: job, executor: executor, spec: context.spec, inputs: context.inputs + context.lampOffInputs,
            calibrations: context.calibrations, metrics: judged, summaries: output.metrics)
        let path = try productPath(type: output.type, job: job)
        let permissions = WorkspacePermissions(configuration: configuration)
        let written = try ProductWriter.writeTimed(path: path, permissions: permissions) { file in
            for (index, hdu) in output.hdus.enumerated() {
                switch hdu {
                case .image(let image, let name, var header):
                    if index == 0 { header.cards.insert(contentsOf: provenance.cards, at: 0) }
                    try file.writeImage(image.pixels, width: image.width, height: image.height, header: header, extensionName: name)
                case .table(let table, let name, let header):
                    if index == 0 { try file.writeEmptyPrimary(header: provenance) }
                    try file.writeTable(table, extensionName: name, header: header)
                }
            }
        }
        let checksum = written.checksum
        for attachment in output.attachments {
            // A missing plot must not lose the product: log and go on.
            let attachmentPath = Self.attachmentPath(product: path, suffix: attachment.suffix)
            do { try ProductWriter.writeSidecar(attachment.contents, to: attachmentPath, permissions: permissions) } catch {
                context.logger.warning("could not write product attachment", metadata: ["path": "\(attachmentPath)", "error": "\(error)"])
            }
        }
        context.logger.info("product written", metadata: ["product.path": "\(path)", "product.type": "\(output.type.rawValue)",
                                                          "qc": "\(failed.isEmpty ? "pass" : "FAIL")"])
        let draft = ProductDraft(productType: output.type, mjd: output.mjd, path: path, checksum: checksum,
                                 qcPassed: failed.isEmpty, metrics: judged,
                                 used: context.calibrations.values.compactMap(\.id))
        var timing = written.timing
        // Provenance, plots and the log line count as writing; only the fsyncs are apart.
        timing.writeSeconds = Self.seconds() - started - timing.fsyncSeconds
        return (draft, failed, timing)
    }

    /// Monotonic seconds, for phase timing.
    static func seconds() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }

    func productPath(type: ProductType, job: JobRecord) throws -> String {
        // Setup values come from FITS headers: keep them to a safe alphabet so
        // that no header can steer a product's path (no '/', no '..').
        let setup = Self.safeComponent(job.setup.replacingOccurrences(of: " ", with: "_"))
        // Job id and re-run generation make the name unique and stable: a crashed attempt's
        // retry rewrites the same file instead of leaving an orphan beside it.
        let generation = job.generation == 0 ? "" : "g\(job.generation)"
        let name = "\(Self.safeComponent(job.instrument))_\(type.rawValue)_\(Self.safeComponent(job.night))_"
            + "\(setup.isEmpty ? "default" : setup)_j\(job.id!)\(generation).fits"
        let directory = (configuration.productsDirectory as NSString).appendingPathComponent(Self.safeComponent(job.night))
        let path = ((directory as NSString).appendingPathComponent(name) as NSString).standardizingPath
        guard path.hasPrefix((configuration.productsDirectory as NSString).standardizingPath + "/") else {
            throw PipelineError.productWrite("refusing to write outside the products directory: \(path)")
        }
        return path
    }

    /// The file beside a product: its path with `.fits` replaced by the suffix (e.g. `_qc.svg`).
    static func attachmentPath(product: String, suffix: String) -> String {
        (product.hasSuffix(".fits") ? String(product.dropLast(5)) : product) + suffix
    }

    /// Letters, digits and `._=+-`; anything else becomes `-`, and leading dots are dropped.
    static func safeComponent(_ text: String) -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._=+-")
        var out = String(text.map { allowed.contains($0) ? $0 : "-" })
        while out.hasPrefix(".") { out.removeFirst() }
        return String(out.prefix(200))
    }

    static func format(_ v: Double) -> String { String(format: "%.4g", v) }

    /// Runs CPU-heavy work on a GCD queue so the daemon's event handling on
    /// the cooperative pool is never starved by numerical work.
    static func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }
}

/// Lets an existing logger's handler take part in a MultiplexLogHandler.
struct LoggerHandlerBox: LogHandler {
    var logger: Logger
    init(_ logger: Logger) { self.logger = logger }
    var metadata: Logger.Metadata {
        get { logger.handler.metadata }
        set { logger.handler.metadata = newValue }
    }
    var logLevel: Logger.Level {
        get { logger.logLevel }
        set { logger.logLevel = newValue }
    }
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { logger[metadataKey: key] }
        set { logger[metadataKey: key] = newValue }
    }
    func log(event: LogEvent) { logger.handler.log(event: event) }
}
