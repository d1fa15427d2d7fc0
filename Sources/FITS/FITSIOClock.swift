import Glibc
import Synchronization

/// Wall time this process has spent inside cfitsio, split by whether the file
/// was opened for reading or created for writing.
///
/// Every cfitsio call already runs under one process-wide lock (`exclusiveCFITSIO`),
/// so the calls never overlap and their sum is the wall time the process spent
/// in FITS I/O and (de)compression, however many threads asked for it. Time
/// spent waiting for the lock is not counted. A recipe process runs one job, so
/// the difference of two readings taken around a job is that job's I/O; in a
/// process that runs several jobs at once the figures would mix.
public enum FITSIOClock {
    public enum Direction: Sendable { case read, write }

    private static let readNanoseconds = Atomic<UInt64>(0)
    private static let writeNanoseconds = Atomic<UInt64>(0)

    /// Seconds spent so far in cfitsio calls on files opened for reading.
    public static var readSeconds: Double { Double(readNanoseconds.load(ordering: .relaxed)) / 1e9 }
    /// Seconds spent so far in cfitsio calls on files created for writing (including their flush and close).
    public static var writeSeconds: Double { Double(writeNanoseconds.load(ordering: .relaxed)) / 1e9 }

    static func add(_ nanoseconds: UInt64, _ direction: Direction) {
        switch direction {
        case .read: readNanoseconds.add(nanoseconds, ordering: .relaxed)
        case .write: writeNanoseconds.add(nanoseconds, ordering: .relaxed)
        }
    }

    static func now() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
