import CalibCore
import Foundation
import GRDB

/// What the database knows of a path from an earlier ingest.
public struct KnownPath: Sendable, Equatable {
    public var frameId: Int64
    public var sizeBytes: Int64
    public var mtime: Double

    public init(frameId: Int64, sizeBytes: Int64, mtime: Double) {
        self.frameId = frameId; self.sizeBytes = sizeBytes; self.mtime = mtime
    }
}

extension CalibrationDatabase {
    public func frame(checksum: String) throws -> FrameRecord? {
        try read { db in try FrameRecord.filter(FrameRecord.Columns.checksum == checksum).fetchOne(db) }
    }

    public func frame(id: Int64) throws -> FrameRecord? {
        try read { db in try FrameRecord.fetchOne(db, key: id) }
    }

    public func knownPath(_ path: String) throws -> KnownPath? {
        try knownPaths([path])[path]
    }

    /// What is known of many paths, in one read (a scan asks for thousands).
    public func knownPaths(_ paths: [String]) throws -> [String: KnownPath] {
        guard !paths.isEmpty else { return [:] }
        return try read { db in
            let statement = try db.cachedStatement(sql: "SELECT frame_id, size_bytes, mtime FROM frame_path WHERE path = ?")
            var known: [String: KnownPath] = [:]
            for path in paths {
                if let row = try Row.fetchOne(statement, arguments: [path]) {
                    known[path] = KnownPath(frameId: row["frame_id"], sizeBytes: row["size_bytes"], mtime: row["mtime"])
                }
            }
            return known
        }
    }

    /// Records a frame's content, or — when the same bytes are already known
    /// under another path — only the new path. Returns the frame and whether
    /// it is new. Atomic: two ingesters racing on one file record it once.
    @discardableResult
    public func record(frame: FrameRecord, seenAt path: String, mtime: Double) throws -> (frame: FrameRecord, isNew: Bool) {
        try write { db in try Self.record(db, frame: frame, seenAt: path, mtime: mtime) }
    }

    /// Records several frames in one transaction (see `record(frame:seenAt:mtime:)`).
    public func record(batch: [(frame: FrameRecord, path: String, mtime: Double)]) throws -> [(frame: FrameRecord, isNew: Bool)] {
        guard !batch.isEmpty else { return [] }
        return try write { db in try batch.map { try Self.record(db, frame: $0.frame, seenAt: $0.path, mtime: $0.mtime) } }
    }

    static func record(_ db: Database, frame: FrameRecord, seenAt path: String, mtime: Double) throws -> (frame: FrameRecord, isNew: Bool) {
        // Cached statements: a burst of thousands of files compiles each statement once.
        var isNew = false
        let existing = try db.cachedStatement(sql: "SELECT * FROM frame WHERE checksum = ?")
        var stored = try FrameRecord.fetchOne(existing, arguments: [frame.checksum])
        if stored == nil {
            // Explicit columns rather than the record's Codable encoding: a tenth of the cost in a burst.
            try db.cachedStatement(sql: """
                INSERT INTO frame (checksum, path, size_bytes, status, problem, instrument, frame_type, lamp, night, setup,
                                   mjd_obs, exptime, tpl_start, tpl_nexp, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """).execute(arguments: [
                    frame.checksum, frame.path, frame.sizeBytes, frame.status.rawValue, frame.problem, frame.instrument,
                    frame.frameType.rawValue, frame.lamp, frame.night, frame.setup, frame.mjdObs, frame.exptime,
                    frame.tplStart, frame.tplNexp, frame.recordedAt,
                ])
            var inserted = frame
            inserted.id = db.lastInsertedRowID
            stored = inserted
            isNew = true
        }
        let previous = try Int64.fetchOne(db.cachedStatement(sql: "SELECT frame_id FROM frame_path WHERE path = ?"), arguments: [path])
        try db.cachedStatement(sql: """
            INSERT INTO frame_path (path, frame_id, size_bytes, mtime, seen_at) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT(path) DO UPDATE SET frame_id = excluded.frame_id, size_bytes = excluded.size_bytes,
                mtime = excluded.mtime, seen_at = excluded.seen_at
            """).execute(arguments: [path, stored!.id!, frame.sizeBytes, mtime, frame.recordedAt])
        if let previous, previous != stored!.id! {
            try markReplaced(db, path: path, previousFrameId: previous, newFrameId: stored!.id!)
        }
        return (stored!, isNew)
    }

    /// Usable frames of an instrument (optionally one night), as the scheduler sees them.
    public func frameSummaries(instrument: String? = nil, nights: [String]? = nil) throws -> [FrameSummary] {
        try read { db in
            var request = FrameRecord.filter(FrameRecord.Columns.status == FrameRecord.Status.ok.rawValue)
            if let instrument { request = request.filter(FrameRecord.Columns.instrument == instrument) }
            if let nights { request = request.filter(nights.contains(FrameRecord.Columns.night)) }
            return try request.fetchAll(db).compactMap(\.summary)
        }
    }

    /// The lamp labels recorded frames carry (to check a `--lamp` a person typed).
    public func frameLamps() throws -> [String] {
        try read { db in try String.fetchAll(db, sql: "SELECT DISTINCT lamp FROM frame WHERE lamp IS NOT NULL ORDER BY lamp") }
    }

    /// Frames for listings, newest first. `problemsOnly` keeps frames
    /// recorded with a reason whose bytes are still the current content of
    /// some path (a half-written file that later completed is not listed).
    public func frames(night: String? = nil, problemsOnly: Bool = false, limit: Int = 10_000) throws -> [FrameListing] {
        try read { db in
            var sql = """
                SELECT f.*, (SELECT json_group_array(p.path) FROM frame_path p WHERE p.frame_id = f.id) AS paths
                FROM frame f WHERE 1 = 1
                """
            var arguments: StatementArguments = []
            if let night { sql += " AND f.night = ?"; arguments += [night] }
            if problemsOnly { sql += " AND f.status = 'problem' AND EXISTS (SELECT 1 FROM frame_path p WHERE p.frame_id = f.id)" }
            sql += " ORDER BY f.recorded_at DESC, f.id DESC LIMIT ?"
            arguments += [limit]
            return try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
                FrameListing(frame: try FrameRecord(row: row),
                             paths: FrameListing.decodePaths(row["paths"]))
            }
        }
    }

    /// Frame counts by type for a night.
    public func frameCounts(night: String) throws -> [String: Int] {
        try read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT frame_type, COUNT(*) AS n FROM frame WHERE night = ? GROUP BY frame_type", arguments: [night])
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["frame_type"] as String, $0["n"] as Int) })
        }
    }

    public func frameCount() throws -> Int {
        try read { db in try FrameRecord.fetchCount(db) }
    }
}

/// A frame with every path its bytes were seen at.
public struct FrameListing: Sendable, Codable, Equatable {
    public var frame: FrameRecord
    public var paths: [String]

    /// The paths from SQLite's `json_group_array`: a JSON array, since a file name may hold any
    /// character a separator could be (a newline split one path in two when they were joined).
    static func decodePaths(_ json: String?) -> [String] {
        guard let json, let paths = try? JSONDecoder().decode([String].self, from: Data(json.utf8)) else { return [] }
        return paths
    }
}
