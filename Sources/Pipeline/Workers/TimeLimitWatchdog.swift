import Dispatch
import Foundation
import Glibc

/// Stops a recipe process that runs past its time limit. A hung recipe would
/// otherwise hold its worker (and, with one worker, the whole night) for ever
/// while its own heartbeat keeps the lease alive. SIGKILL, because workers
/// ignore SIGTERM by design (a graceful stop of the daemon lets running
/// recipes finish); what the process left in `products/` is removed by the
/// crash handling, as for any process that died without an outcome.
final class TimeLimitWatchdog: @unchecked Sendable {
    private let reached = Flag()
    private let timer: DispatchWorkItem

    init(process: ChildProcess, limit: TimeInterval) {
        let reached = self.reached
        timer = DispatchWorkItem { if process.deliver(SIGKILL) { reached.set() } }
        DispatchQueue.global().asyncAfter(deadline: .now() + limit, execute: timer)
    }

    /// Cancels the timer if it has not fired; true when the limit was reached and the process killed.
    func finish() -> Bool {
        timer.cancel()
        return reached.value
    }

    private final class Flag: @unchecked Sendable {
        private let lock = NSLock()
        private var isSet = false
        func set() { lock.withLock { isSet = true } }
        var value: Bool { lock.withLock { isSet } }
    }
}
