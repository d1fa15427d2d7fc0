import CalibCore
import Foundation

/// Aggregates for the Prometheus textfile.
public protocol RegistryMonitoring: Sendable {
    /// Where the registry lives, safe to print in logs, reports and `--json`:
    /// the SQLite file path, or a PostgreSQL location with its password as `***`.
    var displayLocation: String { get }
    func frameCountsByTypeAndStatus() throws -> [(type: String, status: String, count: Int)]
    func currentProductCountsByTypeAndQC() throws -> [(type: String, passed: Bool, count: Int)]
    /// Run time of every job that started and finished, by job id.
    func jobDurations() throws -> [(recipe: String, seconds: Double)]
}
