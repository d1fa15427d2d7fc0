import Foundation
import GRDB

/// Where one attempt of a job spent its time, in wall seconds, and how much
/// memory its recipe process held at most.
///
/// The recipe process measures its own phases (database, read, compute,
/// write, fsync) and its peak resident set (VmHWM) and reports them; the
/// daemon adds what only it can see: the process's whole wall time. The
/// phases need not add up to the wall time exactly: `unaccounted` is the rest
/// (logging, building the job's context, the outcome report).
public struct JobTiming: Codable, Sendable, Equatable {
    public var jobId: Int64
    public var attempt: Int
    public var wallSeconds: Double
    /// Starting the recipe process, loading its configuration and exiting (wall less the attempt's own time).
    public var processSeconds: Double
    public var databaseSeconds: Double
    /// Inside cfitsio reading inputs and calibrations (see `FITSIOClock`).
    public var readSeconds: Double
    /// The recipe's run less its cfitsio reads.
    public var computeSeconds: Double
    /// Writing products (cfitsio, checksums, plots), short of fsync.
    public var writeSeconds: Double
    public var fsyncSeconds: Double
    /// Peak resident set of the recipe process in bytes (nil when the job ran in the daemon's own process).
    public var peakRSSBytes: Int64?

    public init(jobId: Int64, attempt: Int, wallSeconds: Double = 0, processSeconds: Double = 0, databaseSeconds: Double = 0,
                readSeconds: Double = 0, computeSeconds: Double = 0, writeSeconds: Double = 0, fsyncSeconds: Double = 0,
                peakRSSBytes: Int64? = nil) {
        self.jobId = jobId; self.attempt = attempt; self.wallSeconds = wallSeconds; self.processSeconds = processSeconds
        self.databaseSeconds = databaseSeconds; self.readSeconds = readSeconds; self.computeSeconds = computeSeconds
        self.writeSeconds = writeSeconds; self.fsyncSeconds = fsyncSeconds; self.peakRSSBytes = peakRSSBytes
    }

    /// Wall time not in any phase (never negative).
    public var unaccountedSeconds: Double {
        max(0, wallSeconds - (processSeconds + databaseSeconds + readSeconds + computeSeconds + writeSeconds + fsyncSeconds))
    }

    /// Names of `phases`, in order.
    public static let phaseNames = ["process", "database", "read", "compute", "write", "fsync", "other"]

    /// The phases in the order a job goes through them, with their names as shown to people.
    public var phases: [(name: String, seconds: Double)] {
        Array(zip(Self.phaseNames, [processSeconds, databaseSeconds, readSeconds, computeSeconds, writeSeconds, fsyncSeconds,
                                     unaccountedSeconds]))
    }
}

extension CalibrationDatabase {
    /// Records (or replaces) the timing of one attempt.
    public func record(timing t: JobTiming, now: Date = Date()) throws {
        try write { db in
            try db.execute(sql: """
                INSERT OR REPLACE INTO job_attempt_timing (job_id, attempt, wall_seconds, process_seconds, database_seconds,
                    read_seconds, compute_seconds, write_seconds, fsync_seconds, peak_rss_bytes, recorded_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [t.jobId, t.attempt, max(0, t.wallSeconds), max(0, t.processSeconds), max(0, t.databaseSeconds),
                                 max(0, t.readSeconds), max(0, t.computeSeconds), max(0, t.writeSeconds), max(0, t.fsyncSeconds),
                                 t.peakRSSBytes, now.timeIntervalSince1970])
        }
    }

    /// Timings of a job's attempts (nil: of every job), oldest first.
    public func timings(ofJob id: Int64? = nil) throws -> [JobTiming] {
        try read { db in
            let rows = try id.map { id in
                try Row.fetchAll(db, sql: "SELECT * FROM job_attempt_timing WHERE job_id = ? ORDER BY attempt", arguments: [id])
            } ?? Row.fetchAll(db, sql: "SELECT * FROM job_attempt_timing ORDER BY job_id, attempt")
            return rows.map { row in
                JobTiming(jobId: row["job_id"], attempt: row["attempt"], wallSeconds: row["wall_seconds"],
                          processSeconds: row["process_seconds"], databaseSeconds: row["database_seconds"],
                          readSeconds: row["read_seconds"], computeSeconds: row["compute_seconds"],
                          writeSeconds: row["write_seconds"], fsyncSeconds: row["fsync_seconds"], peakRSSBytes: row["peak_rss_bytes"])
            }
        }
    }
}
