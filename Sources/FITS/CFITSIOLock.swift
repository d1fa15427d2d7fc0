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
func exclusiveCFITSIO(_ body: () -> Void) -> [String] {
    cfitsioLock.withLock { _ in
        body()
        return FITSError.drainMessages()
    }
}
