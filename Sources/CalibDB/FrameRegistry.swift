import CalibCore
import Foundation

/// Raw frames: identity by content checksum, every path the bytes were seen at.
public protocol FrameRegistry: Sendable {
    func frame(checksum: String) throws -> FrameRecord?
    func frame(id: Int64) throws -> FrameRecord?
    /// What is known of many paths, in one read.
    func knownPaths(_ paths: [String]) throws -> [String: KnownPath]
    /// Records a frame's content, or only the new path when the same bytes are known
    /// (dedupe by checksum, atomic between racing ingesters). A path that held other
    /// bytes before marks that frame replaced when it has no path left.
    func record(frame: FrameRecord, seenAt path: String, mtime: Double) throws -> (frame: FrameRecord, isNew: Bool)
    /// Several `record(frame:seenAt:mtime:)` in one transaction.
    func record(batch: [(frame: FrameRecord, path: String, mtime: Double)]) throws -> [(frame: FrameRecord, isNew: Bool)]
    /// Usable frames (status ok) of an instrument and nights, as the scheduler sees them.
    func frameSummaries(instrument: String?, nights: [String]?) throws -> [FrameSummary]
    func frameLamps() throws -> [String]
    /// Frames for listings, newest first (`recorded_at`, then id), with every path (a set:
    /// SQLite states no order, PostgreSQL gives byte order).
    func frames(night: String?, problemsOnly: Bool, limit: Int) throws -> [FrameListing]
    func frameCounts(night: String) throws -> [String: Int]
    func frameCount() throws -> Int
    /// Recorded paths under directory `roots` (no trailing slash).
    func recordedPaths(under roots: [String]) throws -> [String]
    /// Marks usable frames seen at `paths` deleted when none of their paths exists any more.
    func markDeleted(paths: [String], exists: (String) -> Bool, now: Date) throws -> [Int64]
    /// Every night a frame or a job names, oldest first.
    func recordedNights() throws -> [String]
}
