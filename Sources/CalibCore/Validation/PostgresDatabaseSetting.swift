/// What `database: postgresql://…` in `calibd.yaml` gets: checked when the
/// configuration loads, so a typo is a configuration error (exit 78, with the
/// file and key) rather than a daemon that fails later; the message shows the
/// URL with its password as `***`. A valid URL is kept as it is (not resolved
/// as a path) and opened by `RegistryOpener`: the daemon, its worker
/// processes and `calibctl` then keep the whole registry on that server.
public enum PostgresDatabaseSetting {
    /// nil when `url` is a usable PostgreSQL location; otherwise the error to throw.
    public static func problem(_ url: String, file: String) -> ConfigurationError? {
        do {
            _ = try PostgresLocation(url: url)
            return nil
        } catch {
            return ConfigurationError(file: file, key: "database", message: "invalid PostgreSQL URL: \(error.message)")
        }
    }
}
