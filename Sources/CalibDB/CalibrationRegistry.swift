import CalibCore
import Foundation

/// The calibration registry as the daemon and `calibctl` use it, whichever
/// database holds it: the job queue (`JobQueue`), raw frames, products and
/// their QC metrics, the association inputs (candidates, pins, references),
/// control commands, job history and attempt bookkeeping, monitoring counts
/// and the daemon's small state: every call calibd and calibctl make on it.
///
/// `CalibrationDatabase` (SQLite, the embedded default) implements it; the
/// PostgreSQL implementation lives in `CalibDBPostgres`. Each part is its own
/// protocol so a caller can ask for only what it uses, and so the contract
/// tests (`JobQueueContractTests`) can hold each backend to each part.
///
/// Not in here: `integrityCheck` (SQLite's `PRAGMA integrity_check`; a server
/// checks itself) and `read` (raw GRDB access, used by tests and benchmarks only).
public typealias CalibrationRegistry = JobQueue & FrameRegistry & ProductRegistry & CalibrationLookup
    & ControlCommands & DaemonStateStore & JobHistory & AttemptBookkeeping & RegistryMonitoring

extension CalibrationDatabase: FrameRegistry, ProductRegistry, CalibrationLookup, ControlCommands, DaemonStateStore,
    JobHistory, AttemptBookkeeping, RegistryMonitoring {
    /// The file path: it holds no secret.
    public var displayLocation: String { path }
}
