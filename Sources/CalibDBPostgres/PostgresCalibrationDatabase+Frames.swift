import CalibCore
import CalibDB
import Foundation
import PostgresNIO

/// Raw frames on PostgreSQL, with SQLite's rules (`CalibrationDatabase+Frames`,
/// `+VanishedFrames`): a frame is its bytes (checksum), recorded once however
/// many hosts ingest it; every path it was seen at is kept; a path re-recorded
/// for other bytes, or gone from disk, marks the frame a problem with the reason.
extension PostgresCalibrationDatabase {
    static let frameColumns = "id, checksum, path, size_bytes, status, problem, instrument, frame_type, lamp, night, setup, "
        + "mjd_obs, exptime, tpl_start, tpl_nexp, recorded_at"

    public func frame(checksum: String) throws -> FrameRecord? {
        try pool.withConnection { c in
            try pool.query(c, "SELECT \(unescaped: Self.frameColumns) FROM frame WHERE checksum = \(checksum)").first.map(Self.frame(from:))
        }
    }

    public func frame(id: Int64) throws -> FrameRecord? {
        try pool.withConnection { c in
            try pool.query(c, "SELECT \(unescaped: Self.frameColumns) FROM frame WHERE id = \(id)").first.map(Self.frame(from:))
        }
    }

    public func knownPaths(_ paths: [String]) throws -> [String: KnownPath] {
        guard !paths.isEmpty else { return [:] }
        return try pool.withConnection { c in
            var known: [String: KnownPath] = [:]
            for row in try pool.query(c, "SELECT path, frame_id, size_bytes, mtime FROM frame_path WHERE path = ANY(\(paths))") {
                let (path, frameId, size, mtime) = try row.decode((String, Int64, Int64, Double).self)
                known[path] = KnownPath(frameId: frameId, sizeBytes: size, mtime: mtime)
            }
            return known
        }
    }

    public func record(frame: FrameRecord, seenAt path: String, mtime: Double) throws -> (frame: FrameRecord, isNew: Bool) {
        try pool.transaction { c in try record(c, frame: frame, seenAt: path, mtime: mtime) }
    }

    public func record(batch: [(frame: FrameRecord, path: String, mtime: Double)]) throws -> [(frame: FrameRecord, isNew: Bool)] {
        guard !batch.isEmpty else { return [] }
        return try pool.transaction { c in try batch.map { try record(c, frame: $0.frame, seenAt: $0.path, mtime: $0.mtime) } }
    }

    /// One frame inside the caller's transaction. `ON CONFLICT (checksum) DO NOTHING` makes two hosts
    /// ingesting the same bytes at once record one frame: the loser reads the winner's row.
    private func record(_ c: PostgresConnection, frame: FrameRecord, seenAt path: String, mtime: Double) throws
        -> (frame: FrameRecord, isNew: Bool) {
        let stored: FrameRecord
        var isNew = false
        if let row = try pool.query(c, """
            INSERT INTO frame (checksum, path, size_bytes, status, problem, instrument, frame_type, lamp, night, setup,
                               mjd_obs, exptime, tpl_start, tpl_nexp, recorded_at)
            VALUES (\(frame.checksum), \(frame.path), \(frame.sizeBytes), \(frame.status.rawValue), \(frame.problem),
                    \(frame.instrument), \(frame.frameType.rawValue), \(frame.lamp), \(frame.night), \(frame.setup),
                    \(frame.mjdObs), \(frame.exptime), \(frame.tplStart), \(frame.tplNexp), \(frame.recordedAt))
            ON CONFLICT (checksum) DO NOTHING
            RETURNING id
            """).first {
            // As on SQLite: the new frame is the caller's record with its id.
            var inserted = frame
            inserted.id = try row.decode(Int64.self)
            stored = inserted
            isNew = true
        } else {
            guard let row = try pool.query(c, "SELECT \(unescaped: Self.frameColumns) FROM frame WHERE checksum = \(frame.checksum)").first
            else { throw PostgresFailure(message: "frame \(frame.checksum) vanished while being recorded", sqlState: nil) }
            stored = try Self.frame(from: row)
        }
        let id = stored.id!
        // The row lock (FOR UPDATE) keeps a concurrent re-recording of this path from slipping between read and upsert.
        let previous = try pool.query(c, "SELECT frame_id FROM frame_path WHERE path = \(path) FOR UPDATE").first
            .map { try $0.decode(Int64.self) }
        try pool.query(c, """
            INSERT INTO frame_path (path, frame_id, size_bytes, mtime, seen_at) VALUES (\(path), \(id), \(frame.sizeBytes), \(mtime), \(frame.recordedAt))
            ON CONFLICT (path) DO UPDATE SET frame_id = excluded.frame_id, size_bytes = excluded.size_bytes,
                mtime = excluded.mtime, seen_at = excluded.seen_at
            """)
        if let previous, previous != id {
            let problem = "replaced in place: \(path) now holds other bytes (frame \(id)); these bytes are no longer on disk"
            try pool.query(c, """
                UPDATE frame SET status = 'problem', problem = \(problem)
                WHERE id = \(previous) AND status = 'ok' AND NOT EXISTS (SELECT 1 FROM frame_path WHERE frame_id = \(previous))
                """)
        }
        return (stored, isNew)
    }

    public func frameSummaries(instrument: String?, nights: [String]?) throws -> [FrameSummary] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.frameColumns) FROM frame
                WHERE status = 'ok' AND (\(instrument == nil) OR instrument = \(instrument))
                  AND (\(nights == nil) OR night = ANY(\(nights ?? [])))
                ORDER BY id
                """).map(Self.frame(from:)).compactMap(\.summary)
        }
    }

    public func frameLamps() throws -> [String] {
        try pool.withConnection { c in
            try pool.query(c, "SELECT DISTINCT lamp COLLATE \"C\" FROM frame WHERE lamp IS NOT NULL ORDER BY 1").map { try $0.decode(String.self) }
        }
    }

    public func frames(night: String?, problemsOnly: Bool, limit: Int) throws -> [FrameListing] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT \(unescaped: Self.frameColumns(prefix: "f.")),
                       array(SELECT p.path FROM frame_path p WHERE p.frame_id = f.id ORDER BY p.path) AS paths
                FROM frame f
                WHERE (\(night == nil) OR f.night = \(night))
                  AND (NOT \(problemsOnly) OR (f.status = 'problem' AND EXISTS (SELECT 1 FROM frame_path p WHERE p.frame_id = f.id)))
                ORDER BY f.recorded_at DESC, f.id DESC LIMIT \(limit)
                """).map { row in
                FrameListing(frame: try Self.frame(from: row), seenAt: try row.makeRandomAccess()["paths"].decode([String].self))
            }
        }
    }

    public func frameCounts(night: String) throws -> [String: Int] {
        try pool.withConnection { c in
            var counts: [String: Int] = [:]
            for row in try pool.query(c, "SELECT frame_type, count(*) FROM frame WHERE night = \(night) GROUP BY frame_type") {
                let (type, n) = try row.decode((String, Int).self)
                counts[type] = n
            }
            return counts
        }
    }

    public func frameCount() throws -> Int {
        try pool.withConnection { c in try pool.query(c, "SELECT count(*) FROM frame").first.map { try $0.decode(Int.self) } ?? 0 }
    }

    public func recordedPaths(under roots: [String]) throws -> [String] {
        try pool.withConnection { c in
            var paths: [String] = []
            for root in roots {
                // Range scan in byte order (the column is COLLATE "C"): '/' + 1 is '0'.
                let low = root + "/", high = root + "0"
                paths += try pool.query(c, "SELECT path FROM frame_path WHERE path >= \(low) AND path < \(high) ORDER BY path")
                    .map { try $0.decode(String.self) }
            }
            return paths
        }
    }

    public func markDeleted(paths: [String], exists: (String) -> Bool, now: Date) throws -> [Int64] {
        guard !paths.isEmpty else { return [] }
        return try pool.transaction { c in
            var marked: [Int64] = []
            for path in paths {
                guard let frameId = try pool.query(c, """
                    SELECT p.frame_id FROM frame_path p JOIN frame f ON f.id = p.frame_id WHERE p.path = \(path) AND f.status = 'ok'
                    """).first.map({ try $0.decode(Int64.self) }) else { continue }
                let all = try pool.query(c, "SELECT path FROM frame_path WHERE frame_id = \(frameId)").map { try $0.decode(String.self) }
                guard !all.contains(where: exists) else { continue }
                let problem = "deleted: \(path) is gone (noticed by the scan at \(ISO8601DateFormatter().string(from: now))); restore the file to use it again"
                try pool.query(c, "UPDATE frame SET status = 'problem', problem = \(problem) WHERE id = \(frameId) AND status = 'ok'")
                marked.append(frameId)
            }
            return marked
        }
    }

    public func recordedNights() throws -> [String] {
        try pool.withConnection { c in
            try pool.query(c, """
                SELECT night FROM (SELECT night FROM frame WHERE night IS NOT NULL UNION SELECT night FROM job) AS nights
                ORDER BY night COLLATE "C"
                """).map { try $0.decode(String.self) }
        }
    }

    static func frameColumns(prefix: String) -> String {
        frameColumns.split(separator: ",").map { prefix + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
    }

    static func frame(from row: PostgresRow) throws -> FrameRecord {
        let r = row.makeRandomAccess()
        let statusName = try r["status"].decode(String.self)
        let typeName = try r["frame_type"].decode(String.self)
        guard let status = FrameRecord.Status(rawValue: statusName) else {
            throw PostgresFailure(message: "frame has status '\(statusName)', which this calibd does not know", sqlState: nil)
        }
        guard let type = FrameType(rawValue: typeName) else {
            throw PostgresFailure(message: "frame has type '\(typeName)', which this calibd does not know", sqlState: nil)
        }
        return FrameRecord(
            id: try r["id"].decode(Int64.self), checksum: try r["checksum"].decode(String.self), path: try r["path"].decode(String.self),
            sizeBytes: try r["size_bytes"].decode(Int64.self), status: status, problem: try r["problem"].decode(String?.self),
            instrument: try r["instrument"].decode(String?.self), frameType: type, lamp: try r["lamp"].decode(String?.self),
            night: try r["night"].decode(String?.self), setup: try r["setup"].decode(String?.self),
            mjdObs: try r["mjd_obs"].decode(Double?.self), exptime: try r["exptime"].decode(Double?.self),
            tplStart: try r["tpl_start"].decode(String?.self), tplNexp: try r["tpl_nexp"].decode(Int?.self),
            recordedAt: try r["recorded_at"].decode(Date.self))
    }
}
