import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
import Logging

/// Opens the calibration registry that `configuration.database` names:
/// PostgreSQL for a `postgresql://` (or `postgres://`) URL, otherwise the
/// SQLite file at that path (the embedded default).
///
/// This is the only place the daemon, its worker processes and `calibctl`
/// choose a backend, so they can never disagree about where the registry is.
/// A worker process reopens the same backend from the same `calibd.yaml`
/// (`WorkerLauncher` passes the file, never the URL), so a password stays in
/// the configuration or in the `passfile=` file it names, never on a command
/// line where `ps` would show it.
public enum RegistryOpener {
    /// - Parameter readOnly: for SQLite, open without ever taking the write
    ///   lock (queries beside a running daemon, the examiner child). A
    ///   PostgreSQL reader needs no such mode: its reads never block writers.
    public static func open(_ configuration: CalibdConfiguration, readOnly: Bool = false,
                            logger: Logger? = nil) throws -> any CalibrationRegistry {
        try open(database: configuration.database, readOnly: readOnly, logger: logger)
    }

    /// `database` is `configuration.database`: a file path or a PostgreSQL URL.
    public static func open(database: String, readOnly: Bool = false, logger: Logger? = nil) throws -> any CalibrationRegistry {
        if PostgresLocation.isPostgresURL(database) {
            let location: PostgresLocation
            do {
                location = try PostgresLocation(url: database)
            } catch {
                // The message never repeats the password (PostgresLocationError).
                throw UserFacingError(.config, "invalid PostgreSQL URL in 'database': \(error.message)",
                                      remedy: "correct 'database:' in calibd.yaml")
            }
            return try PostgresCalibrationDatabase(location: location, logger: logger)
        }
        return try CalibrationDatabase(path: database, readOnly: readOnly)
    }

    /// True when `database` names a server rather than a file that must exist.
    public static func isServer(_ database: String) -> Bool { PostgresLocation.isPostgresURL(database) }

    /// `database` as it may be logged, reported or printed in `--json`: a file
    /// path as it is, a PostgreSQL URL with its password as `***` (a URL too
    /// broken to parse is not repeated at all, since it may hold one).
    public static func displayLocation(_ database: String) -> String {
        guard isServer(database) else { return database }
        return (try? PostgresLocation(url: database).redacted) ?? "postgresql://(unparsable URL)"
    }
}
