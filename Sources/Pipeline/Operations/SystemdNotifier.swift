import Foundation
import Glibc

/// Tells systemd how the daemon is doing (`Type=notify`): READY=1 once the
/// watcher and scheduler run, STATUS= lines for `systemctl status`,
/// STOPPING=1 on a graceful stop, and WATCHDOG=1 so that a wedged scheduler
/// is killed and restarted (`WatchdogSec=`).
///
/// The protocol is one datagram per message on the Unix socket named by
/// `NOTIFY_SOCKET` (sd_notify(3)); a name starting with `@` is in the
/// abstract namespace. Written here rather than linking libsystemd, which the
/// build machines and containers do not all have. Without `NOTIFY_SOCKET`
/// (started by hand, or `Type=simple`) every call does nothing.
public final class SystemdNotifier: Sendable {
    private let socketPath: String?
    /// How often systemd expects WATCHDOG=1: `WATCHDOG_USEC`, when it is meant
    /// for this process (`WATCHDOG_PID` absent or ours). Send at half of it.
    public let watchdogTimeout: Duration?

    public init(environment: [String: String] = ProcessInfo.processInfo.environment) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path.flatMap { $0.hasPrefix("/") || $0.hasPrefix("@") ? $0 : nil }
        let forUs = environment["WATCHDOG_PID"].map { Int32($0) == getpid() } ?? true
        if forUs, let usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init), usec > 0 {
            watchdogTimeout = .microseconds(usec)
        } else {
            watchdogTimeout = nil
        }
    }

    /// Whether anything listens (systemd started us with `Type=notify`).
    public var isActive: Bool { socketPath != nil }

    public func ready(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func status(_ text: String) { send("STATUS=\(text)") }
    public func stopping(status: String) { send("STOPPING=1\nSTATUS=\(status)") }
    public func reloading() { send("RELOADING=1") }
    public func reloaded(status: String) { send("READY=1\nSTATUS=\(status)") }
    public func watchdog() { send("WATCHDOG=1") }

    /// Sends one notification; failures are ignored, as sd_notify's callers
    /// do: systemd being away must not stop the calibration.
    @discardableResult
    public func send(_ message: String) -> Bool {
        guard let socketPath else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var name = Array(socketPath.utf8)
        if name.first == UInt8(ascii: "@") { name[0] = 0 }  // abstract namespace: a leading NUL, no terminator
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard name.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { bytes in
            for (i, byte) in name.enumerated() { bytes[i] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + name.count + (name.first == 0 ? 0 : 1))
        let bytes = Array(message.utf8)
        let sent = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                sendto(fd, bytes, bytes.count, Int32(MSG_NOSIGNAL), sockaddrPointer, length)
            }
        }
        return sent == bytes.count
    }
}
