import Foundation
import GRDB

extension CalibrationDatabase {
    public func setDaemonState(_ key: String, _ value: String, now: Date = Date()) throws {
        try write { db in
            try db.execute(sql: """
                INSERT INTO daemon_state (key, value, updated_at) VALUES (?, ?, ?)
                ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                """, arguments: [key, value, now])
        }
    }

    public func daemonState() throws -> [String: String] {
        try read { db in
            Dictionary(uniqueKeysWithValues: try Row.fetchAll(db, sql: "SELECT key, value FROM daemon_state").map {
                ($0["key"] as String, $0["value"] as String)
            })
        }
    }

    /// True while `calibctl pause` is in force.
    public func isPaused() throws -> Bool {
        try read { db in try String.fetchOne(db, sql: "SELECT value FROM daemon_state WHERE key = 'paused'") == "1" }
    }
}
