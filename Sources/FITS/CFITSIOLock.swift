import Synchronization

/// cfitsio keeps a single error-message stack for the whole process. Every cfitsio call runs
/// under this lock together with the drain of that stack, so messages are attributed to the call
/// that caused them even when several tasks work on different files at once. The cost is that
/// cfitsio work (I/O, decompression) is serialized; pixel processing in Swift is not.
private let cfitsioLock = Mutex(())

/// Runs `body`, which makes cfitsio calls, exclusively and returns the messages it left behind.
///
/// The stack is drained after successful calls too: some (ffthdu on a short file, compressed-image
/// writes) leave messages even when they succeed, and those would be blamed on the next error.
/// With a `direction`, the call's time inside the lock is added to `FITSIOClock`.
func exclusiveCFITSIO(_ direction: FITSIOClock.Direction? = nil, _ body: () -> Void) -> [String] {
    cfitsioLock.withLock { _ in
        guard let direction else {
            body()
            return FITSError.drainMessages()
        }
        let start = FITSIOClock.now()
        body()
        FITSIOClock.add(FITSIOClock.now() &- start, direction)
        return FITSError.drainMessages()
    }
}
