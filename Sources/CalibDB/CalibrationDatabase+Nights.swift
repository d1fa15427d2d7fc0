import CalibCore
import Foundation
import GRDB

extension CalibrationDatabase {
    /// Every night a frame or a job names, oldest first, in one indexed query
    /// (not by listing frames, which a ten-year archive has a million of).
    public func recordedNights() throws -> [String] {
        try read { db in
            try String.fetchAll(db, sql: """
                SELECT night FROM frame WHERE night IS NOT NULL UNION SELECT night FROM job ORDER BY 1
                """)
        }
    }
}
