import CalibCore
import Foundation
import Logging
import PostgresNIO

/// Throwaway databases on a server, for the contract tests and calib-bench:
/// each run gets an empty database of its own, so runs never see each other's
/// rows and nothing has to be cleaned table by table.
public enum PostgresScratchDatabase {
    /// Creates an empty database on `server`'s server (named `prefix_<random>`) and returns its location.
    public static func create(on server: PostgresLocation, prefix: String) throws -> PostgresLocation {
        let name = prefix + "_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
            throw PostgresFailure(message: "database name '\(name)' must be letters, digits and underscores", sqlState: nil)
        }
        try admin(server) { pool, c in try pool.execute(c, "CREATE DATABASE \(name)") }
        var location = server
        location.database = name
        return location
    }

    /// Drops a database made by `create`, closing whatever still holds it open.
    public static func drop(_ scratch: PostgresLocation, on server: PostgresLocation) throws {
        let name = scratch.database
        guard name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else { return }
        try admin(server) { pool, c in try pool.execute(c, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)") }
    }

    private static func admin(_ server: PostgresLocation, _ body: (BlockingPostgresPool, PostgresConnection) throws -> Void) throws {
        var logger = Logger(label: "calibd.postgres.admin")
        logger.logLevel = .warning
        let pool = BlockingPostgresPool(location: server, logger: logger)
        try pool.withConnection { c in try body(pool, c) }
    }
}
