import PostgresNIO

/// A PostgreSQL error in words a person can act on.
///
/// postgres-nio's `PSQLError` prints a deliberately vague description (so that
/// query binds are not leaked into logs); its debug description prints the
/// binds. We keep what is useful and safe: the server's message, SQLSTATE and
/// the client-side error code. Neither contains the connection password.
public struct PostgresFailure: Error, CustomStringConvertible, Sendable {
    public let message: String
    /// The server's SQLSTATE (e.g. `40P01` deadlock), when the server reported the error.
    public let sqlState: String?

    public init(message: String, sqlState: String?) {
        self.message = message; self.sqlState = sqlState
    }

    public var description: String {
        sqlState.map { "PostgreSQL: \(message) (SQLSTATE \($0))" } ?? "PostgreSQL: \(message)"
    }

    static func sqlState(of error: any Error) -> String? {
        if let failure = error as? PostgresFailure { return failure.sqlState }
        return (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    /// Leaves our own errors (e.g. `LeaseLostError`) as they are; turns a `PSQLError` into a `PostgresFailure`.
    static func wrap(_ error: any Error) -> any Error {
        guard let psql = error as? PSQLError else { return error }
        if let server = psql.serverInfo {
            var text = server[.message] ?? "server error"
            if let detail = server[.detail] { text += " — \(detail)" }
            return PostgresFailure(message: text, sqlState: server[.sqlState])
        }
        let underlying = psql.underlying.map { ": \($0)" } ?? ""
        return PostgresFailure(message: "\(psql.code)\(underlying)", sqlState: nil)
    }

    static func failure(from error: any Error) -> PostgresFailure {
        let wrapped: any Error = wrap(error)
        return wrapped as? PostgresFailure ?? PostgresFailure(message: "\(wrapped)", sqlState: nil)
    }
}
