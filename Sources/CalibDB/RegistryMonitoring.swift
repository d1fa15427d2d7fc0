import CalibCore
import Foundation

/// Aggregates for the Prometheus textfile.
public protocol RegistryMonitoring: Sendable {
    func frameCountsByTypeAndStatus() throws -> [(type: String, status: String, count: Int)]
    func currentProductCountsByTypeAndQC() throws -> [(type: String, passed: Bool, count: Int)]
    /// Run time of every job that started and finished, by job id.
    func jobDurations() throws -> [(recipe: String, seconds: Double)]
}
