import Foundation

/// A wake-up for one waiting loop: rings coalesce (ten rings while the loop
/// is busy wake it once), so a burst of ingested frames costs one planning
/// pass, not ten; and a loop that has nothing to do sleeps in `wait` without
/// using the CPU, instead of polling.
///
/// One loop waits on a bell (its stream has one consumer); anyone may ring it.
public final class Doorbell: Sendable {
    private let continuation: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>

    public init() {
        // Newest-one buffering is what makes rings coalesce.
        (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    public func ring() { continuation.yield() }

    /// Ends every present and future `wait` at once (graceful shutdown).
    public func close() { continuation.finish() }

    /// Waits for a ring, or until `deadline` when given (a timer: the
    /// earliest retry, the next reconciliation). Returns false once the bell
    /// is closed or the task is cancelled.
    public func wait(until deadline: ContinuousClock.Instant? = nil) async -> Bool {
        let timer = deadline.map { deadline in
            Task { [continuation] in
                try await Task.sleep(until: deadline, clock: .continuous)
                continuation.yield()
            }
        }
        defer { timer?.cancel() }
        var iterator = stream.makeAsyncIterator()
        return await iterator.next() != nil && !Task.isCancelled
    }
}
