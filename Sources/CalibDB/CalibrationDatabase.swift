import CalibCore
import Foundation
import Glibc
import GRDB

/// The calibration database: every raw frame, job, product and QC metric.
///
/// One facade owns the connection pool and runs the migrations. SQLite in WAL
/// mode lets the daemon write while any number of `calibctl` processes read
/// consistent snapshots; a busy timeout absorbs short write contention.
public final class CalibrationDatabase: Sendable {
    public let path: String
    let pool: DatabasePool

    /// Opens (creating and migrating if needed) the database at `path`.
    public init(path: String, readOnly: Bool = false) throws {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.readonly = readOnly
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // A product or job row must survive a power cut once the commit returns.
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        if !readOnly {
            try FileManager.default.createDirectory(
                atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        }
        pool = try DatabasePool(path: path, configuration: configuration)
        if !readOnly {
            // Two processes opening a new database at once (the daemon and a
            // calibctl) would both see a migration as pending; an advisory
            // lock beside the file lets one migrate while the other waits.
            let lock = open(path + ".migrate-lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
            if lock >= 0 { flock(lock, LOCK_EX) }
            defer { if lock >= 0 { flock(lock, LOCK_UN); close(lock) } }
            try Schema.migrator.migrate(pool)
        }
    }

    /// Runs `PRAGMA integrity_check`; "ok" when the file is sound.
    public func integrityCheck() throws -> String {
        try pool.read { db in try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; ") }
    }

    /// Direct read access for queries that have no method yet (tests, reports).
    public func read<T: Sendable>(_ body: @Sendable (Database) throws -> T) throws -> T {
        try pool.read(body)
    }

    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try pool.write(body)
    }
}
