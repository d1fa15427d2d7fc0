import CalibCore
import Foundation

/// The daemon's small key/value state (`paused`, heartbeat, start time).
public protocol DaemonStateStore: Sendable {
    func setDaemonState(_ key: String, _ value: String, now: Date) throws
    func daemonState() throws -> [String: String]
    func isPaused() throws -> Bool
}
