import Foundation
import GRDB

/// Frames whose bytes are no longer on disk — deleted, or replaced in place by other bytes —
/// are marked as problems with the reason, so that the planner stops using them (their sets are
/// re-planned without them) and a person sees why. Only frames that were usable are marked, and
/// only once none of the paths they were seen at still holds them.
extension CalibrationDatabase {
    /// Recorded paths that lie under one of `roots` (directory paths, without a trailing slash).
    public func recordedPaths(under roots: [String]) throws -> [String] {
        try read { db in
            var paths: [String] = []
            for root in roots {
                // Range scan on the primary key: '/' + 1 is '0'.
                paths += try String.fetchAll(db, sql: "SELECT path FROM frame_path WHERE path >= ? AND path < ?",
                                             arguments: [root + "/", root + "0"])
            }
            return paths
        }
    }

    /// Marks the usable frames seen at `paths` as deleted, when `exists` says none of their
    /// recorded paths holds a file any more. Returns the ids of the frames marked.
    @discardableResult
    public func markDeleted(paths: [String], exists: (String) -> Bool, now: Date = Date()) throws -> [Int64] {
        guard !paths.isEmpty else { return [] }
        return try write { db in
            var marked: [Int64] = []
            for path in paths {
                guard let frameId = try Int64.fetchOne(db, sql: """
                    SELECT p.frame_id FROM frame_path p JOIN frame f ON f.id = p.frame_id WHERE p.path = ? AND f.status = 'ok'
                    """, arguments: [path]) else { continue }
                let all = try String.fetchAll(db, sql: "SELECT path FROM frame_path WHERE frame_id = ?", arguments: [frameId])
                guard !all.contains(where: exists) else { continue }
                try db.execute(sql: "UPDATE frame SET status = 'problem', problem = ? WHERE id = ? AND status = 'ok'", arguments: [
                    "deleted: \(path) is gone (noticed by the scan at \(ISO8601DateFormatter().string(from: now))); restore the file to use it again",
                    frameId])
                marked.append(frameId)
            }
            return marked
        }
    }

    /// After `path` was re-recorded for other bytes (frame `newFrameId`): marks the frame it held
    /// before as replaced, when that frame was usable and has no other path left.
    static func markReplaced(_ db: Database, path: String, previousFrameId: Int64, newFrameId: Int64) throws {
        try db.cachedStatement(sql: """
            UPDATE frame SET status = 'problem', problem = ?
            WHERE id = ? AND status = 'ok' AND NOT EXISTS (SELECT 1 FROM frame_path WHERE frame_id = ?)
            """).execute(arguments: [
                "replaced in place: \(path) now holds other bytes (frame \(newFrameId)); these bytes are no longer on disk",
                previousFrameId, previousFrameId])
    }
}
