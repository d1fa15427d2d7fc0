import Synchronization

/// Runs an action once every part of a start has reported running: the
/// daemon tells systemd READY=1 only when both the raw-data watcher and the
/// scheduler run, so that `systemctl start` returning means frames are seen.
public final class ReadinessBarrier: Sendable {
    private let remaining: Mutex<Int>
    private let action: @Sendable () -> Void

    public init(parts: Int, action: @escaping @Sendable () -> Void) {
        remaining = Mutex(parts); self.action = action
    }

    /// One part runs; the last one to arrive runs the action.
    public func arrive() {
        let last = remaining.withLock { count -> Bool in
            count -= 1
            return count == 0
        }
        if last { action() }
    }
}
