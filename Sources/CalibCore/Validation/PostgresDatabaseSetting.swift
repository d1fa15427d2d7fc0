/// What `database: postgresql://…` in `calibd.yaml` gets today: checked, then refused.
///
/// Only the job queue has a PostgreSQL backend so far (`CalibDBPostgres`, #16);
/// frames, products, QC, pins, control commands and every `calibctl` verb still
/// live in `CalibrationDatabase` (SQLite). A daemon that queued jobs in one
/// database and recorded their products in another would half-work, so the
/// loader refuses the setting with the reason instead. The URL is still parsed
/// first, so a site preparing its configuration learns about a typo now; the
/// message shows it with the password as `***`.
public enum PostgresDatabaseSetting {
    public static func refusal(_ url: String, file: String) -> ConfigurationError {
        let location: PostgresLocation
        do {
            location = try PostgresLocation(url: url)
        } catch {
            return ConfigurationError(file: file, key: "database", message: "invalid PostgreSQL URL: \(error.message)")
        }
        return ConfigurationError(
            file: file, key: "database",
            message: "PostgreSQL (\(location.redacted)) is not supported by the daemon yet: only the job queue has a "
                + "PostgreSQL backend so far; frames, products, QC, pins and control commands are kept in SQLite "
                + "(issue #16). Remove 'database:' to use <workspace>/calibd.sqlite, or give an SQLite file path.")
    }
}
