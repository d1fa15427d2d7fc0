import Foundation
import PostgresNIO

/// `LISTEN calibd_job` on a connection of its own: lets an idle worker sleep
/// until a job may be runnable instead of polling at a short period.
///
/// A hint only. A notification is lost when nobody listens (a worker between
/// connections, a restarting host), and one arrives for jobs another host
/// already took; so a worker always claims after waking, and waits with a
/// timeout that is its polling fallback.
public final class PostgresWakeUps: Sendable {
    private let connection: PostgresConnection
    private let signal = DispatchSemaphore(value: 0)

    public init(queue: PostgresJobQueue) throws {
        connection = try queue.pool.openDedicated()
        let signal = self.signal
        // The handler runs on the connection's event loop: it only signals, never blocks.
        connection.addListener(channel: PostgresJobQueue.wakeUpChannel) { _, _ in signal.signal() }
        try queue.pool.execute(connection, "LISTEN \(PostgresJobQueue.wakeUpChannel)")
    }

    deinit { try? connection.close().wait() }

    /// Waits until a notification arrives (true) or `timeout` seconds pass (false).
    public func wait(timeout: TimeInterval) -> Bool {
        signal.wait(timeout: .now() + timeout) == .success
    }
}
