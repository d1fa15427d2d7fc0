import Foundation

/// Where a PostgreSQL database is, parsed from a `postgresql://…` URL as
/// `calibd.yaml`'s `database:` or `CALIBD_TEST_POSTGRES_URL` gives it.
///
/// Accepted forms (libpq's URI subset that a site actually writes):
/// - `postgresql://user:password@host:5432/calibd` — TCP;
/// - `postgresql://user@/calibd?host=/run/postgresql` — a Unix-socket *directory*
///   (the socket is `<dir>/.s.PGSQL.<port>`, port 5432 unless given);
/// - `…?passfile=/etc/calibd/pgpass` — the password is the file's first line,
///   so it need not sit in `calibd.yaml`.
///
/// The password is never part of `description`: logs, errors and `--json`
/// print `redacted`, which shows `***` in its place.
public struct PostgresLocation: Sendable, Equatable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (directory + `.s.PGSQL.<port>`).
        case unixSocket(path: String)
    }

    public var endpoint: Endpoint
    public var user: String
    public var database: String
    /// From the URL or the password file; nil for peer/trust authentication.
    public var password: String?
    /// Where the password came from, when a file (kept for error messages).
    public var passwordFile: String?

    /// True when `text` names PostgreSQL rather than an SQLite file.
    public static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgresql://") || text.hasPrefix("postgres://")
    }

    /// Parses a URL; the error says which part is wrong without repeating the password.
    public init(url text: String) throws(PostgresLocationError) {
        guard Self.isPostgresURL(text) else {
            throw PostgresLocationError("expected a URL starting with postgresql://")
        }
        guard let components = URLComponents(string: text) else {
            throw PostgresLocationError("not a valid URL (percent-encode special characters in the user name or password)")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard ["host", "port", "user", "password", "passfile", "dbname", "sslmode"].contains(item.name) else {
                throw PostgresLocationError("unknown parameter '\(item.name)' (known: host, port, user, passfile, dbname, sslmode)")
            }
            query[item.name] = item.value ?? ""
        }
        if let sslmode = query["sslmode"], sslmode != "disable" {
            throw PostgresLocationError("sslmode=\(sslmode) is not supported yet; use a Unix socket or a loopback/VPN address with sslmode=disable")
        }
        let portText = query["port"] ?? components.port.map(String.init)
        let port: Int
        if let portText {
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw PostgresLocationError("port must be a number between 1 and 65535")
            }
            port = value
        } else {
            port = 5432
        }
        let host = query["host"] ?? components.host ?? ""
        if host.hasPrefix("/") {
            endpoint = .unixSocket(path: (host as NSString).appendingPathComponent(".s.PGSQL.\(port)"))
        } else if host.isEmpty {
            throw PostgresLocationError("no host: give host:port or ?host=/socket/directory")
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        let user = query["user"] ?? components.user ?? ""
        guard !user.isEmpty else { throw PostgresLocationError("no user name (postgresql://USER@…)") }
        self.user = user
        var path = components.path
        if path.hasPrefix("/") { path.removeFirst() }
        database = query["dbname"] ?? (path.isEmpty ? user : path)
        password = query["password"] ?? components.password
        if let file = query["passfile"] {
            guard password == nil else { throw PostgresLocationError("give a password or a passfile, not both") }
            passwordFile = file
            guard let contents = try? String(contentsOfFile: file, encoding: .utf8) else {
                throw PostgresLocationError("cannot read the password file \(file)")
            }
            password = contents.split(separator: "\n", omittingEmptySubsequences: false).first.map(String.init) ?? ""
        }
    }

    /// The URL with the password replaced by `***`: what may be logged.
    public var redacted: String {
        let auth = password == nil ? user : "\(user):***"
        switch endpoint {
        case .tcp(let host, let port): return "postgresql://\(auth)@\(host):\(port)/\(database)"
        case .unixSocket(let path): return "postgresql://\(auth)@/\(database)?host=\((path as NSString).deletingLastPathComponent)"
        }
    }

    public var description: String { redacted }
    public var debugDescription: String { redacted }
    /// `dump()` and test failure output go through the mirror: no password there either.
    public var customMirror: Mirror { Mirror(self, children: ["location": redacted], displayStyle: .struct) }
}

/// A `postgresql://` URL that cannot be used, and why.
public struct PostgresLocationError: Error, Sendable, Equatable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
