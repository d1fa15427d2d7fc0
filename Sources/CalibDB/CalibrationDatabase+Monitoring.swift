import CalibCore
import Foundation
import GRDB

/// Counts for monitoring (the Prometheus textfile), each one aggregate query.
extension CalibrationDatabase {
    /// Recorded frames by type and status (`ok` or `problem`).
    public func frameCountsByTypeAndStatus() throws -> [(type: String, status: String, count: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: "SELECT frame_type, status, COUNT(*) AS n FROM frame GROUP BY frame_type, status ORDER BY 1, 2")
                .map { ($0["frame_type"], $0["status"], $0["n"]) }
        }
    }

    /// Current (not superseded) products by type and QC verdict.
    public func currentProductCountsByTypeAndQC() throws -> [(type: String, passed: Bool, count: Int)] {
        try read { db in
            try Row.fetchAll(db, sql: """
                SELECT product_type, qc_passed, COUNT(*) AS n FROM product WHERE superseded_by IS NULL
                GROUP BY product_type, qc_passed ORDER BY 1, 2
                """).map { ($0["product_type"], $0["qc_passed"], $0["n"]) }
        }
    }

    /// Run time in seconds of every job that started and finished, by recipe.
    public func jobDurations() throws -> [(recipe: String, seconds: Double)] {
        try read { db in
            try JobRecord.filter(Column("started_at") != nil && Column("finished_at") != nil).fetchAll(db)
                .map { ($0.recipe, $0.finishedAt!.timeIntervalSince($0.startedAt!)) }
        }
    }
}
