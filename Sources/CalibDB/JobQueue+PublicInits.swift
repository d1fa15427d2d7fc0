import CalibCore
import Foundation

extension JobRecord {
    /// Every field of a stored job, for another backend (`CalibDBPostgres`) to build records from its rows.
    /// In an extension so the memberwise initialiser the SQLite code uses stays as it is.
    public init(storedId id: Int64, dedupeKey: String, recipe: String, recipeVersion: String, parameters: String,
                instrument: String, night: String, setup: String, productType: ProductType, state: JobState,
                reason: String?, attempts: Int, maxAttempts: Int, generation: Int, notBefore: Date?,
                leaseOwner: String?, leaseExpiresAt: Date?, createdAt: Date, updatedAt: Date, startedAt: Date?,
                finishedAt: Date?) {
        self.id = id; self.dedupeKey = dedupeKey; self.recipe = recipe; self.recipeVersion = recipeVersion
        self.parameters = parameters; self.instrument = instrument; self.night = night; self.setup = setup
        self.productType = productType; self.state = state; self.reason = reason; self.attempts = attempts
        self.maxAttempts = maxAttempts; self.generation = generation; self.notBefore = notBefore
        self.leaseOwner = leaseOwner; self.leaseExpiresAt = leaseExpiresAt; self.createdAt = createdAt
        self.updatedAt = updatedAt; self.startedAt = startedAt; self.finishedAt = finishedAt
    }
}

extension LeaseLostError {
    /// For another backend to report the same fencing as the SQLite queue does.
    public init(fencedOutOf jobId: Int64) { self.init(jobId: jobId) }
}

extension ControlError {
    /// For another backend to refuse a control request in the same words as SQLite.
    public init(refusing message: String) { self.init(message: message) }
}

extension FrameListing {
    /// For another backend to list frames with their paths.
    public init(frame: FrameRecord, seenAt paths: [String]) { self.init(frame: frame, paths: paths) }
}

extension JobEventRecord {
    /// For another backend to return a job's history as SQLite does.
    public init(storedId id: Int64, jobId: Int64, at: Date, state: JobState, message: String?) {
        self.init(id: id, jobId: jobId, at: at, state: state, message: message)
    }
}

extension CalibrationDatabase.CalibrationChoiceRecord {
    /// For another backend to report how a job's calibrations were chosen.
    public init(storedType type: ProductType, productId: Int64, basis: String, level: Int?, explanation: String) {
        self.init(type: type, productId: productId, basis: basis, level: level, explanation: explanation)
    }
}

extension QCReevaluation {
    /// For another backend to report a changed QC verdict.
    public init(changed productId: Int64, type: ProductType, night: String, wasPassed: Bool, isPassed: Bool, failing: [String]) {
        self.init(productId: productId, type: type, night: night, wasPassed: wasPassed, isPassed: isPassed, failing: failing)
    }
}
