import CalibCore
import Foundation
import Logging
import PostgresNIO
import Synchronization

/// Synchronous access to PostgreSQL for the synchronous `JobQueue` protocol.
///
/// How the bridge avoids deadlocks:
/// - The pool owns a private `MultiThreadedEventLoopGroup`; all socket I/O and
///   every future of its connections complete on *those* threads, and no code
///   of ours (nor a caller's) ever runs on them except postgres-nio's handlers.
/// - A caller blocks with `EventLoopFuture.wait()` on its own thread. That can
///   only deadlock if the waiting thread is the one that must complete the
///   future — i.e. if it were one of the group's event-loop threads. NIO traps
///   that case (`wait()` preconditions `!inEventLoop`), and we also check it up
///   front, so a misuse is a crash with a message, never a silent hang.
/// - We never bridge through Swift concurrency (`Task { … }` + semaphore):
///   blocking a cooperative-pool thread while the work itself needs a pool
///   thread is the classic starvation deadlock on a 2-core machine. Calling
///   these methods from an async context blocks that one thread for a query's
///   round trip but cannot deadlock, because completion needs only NIO's threads.
/// - A connection is used by one caller at a time (checked out, checked in),
///   so one connection never has two transactions interleaved.
///
/// Connections are opened on demand and kept idle for reuse; there is no upper
/// bound besides the callers' own concurrency (the daemon has `workers` + a few).
final class BlockingPostgresPool: Sendable {
    private let group: MultiThreadedEventLoopGroup
    private let configuration: PostgresConnection.Configuration
    let logger: Logger
    let location: PostgresLocation
    private let idle = Mutex<[PostgresConnection]>([])
    private let nextConnectionID = Atomic<Int>(1)

    init(location: PostgresLocation, logger: Logger) {
        self.location = location
        self.logger = logger
        switch location.endpoint {
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: location.user, password: location.password,
                                  database: location.database, tls: .disable)
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: location.user, password: location.password,
                                  database: location.database)
        }
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    }

    deinit {
        for connection in idle.withLock({ $0 }) { try? connection.close().wait() }
        try? group.syncShutdownGracefully()
    }

    /// Runs `body` with a connection of its own, outside any transaction.
    func withConnection<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        let connection = try checkOut()
        do {
            let result = try body(connection)
            checkIn(connection)
            return result
        } catch {
            checkIn(connection)
            throw error
        }
    }

    /// Runs `body` in one transaction (READ COMMITTED), committed when it
    /// returns and rolled back when it throws. A deadlock or serialization
    /// failure reported by the server is retried (up to 3 times): the work is
    /// re-done from the start on fresh rows, which is what those errors ask for.
    func transaction<T>(_ body: (PostgresConnection) throws -> T) throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            let connection = try checkOut()
            do {
                try execute(connection, "BEGIN")
                let result = try body(connection)
                try execute(connection, "COMMIT")
                checkIn(connection)
                return result
            } catch {
                // A connection whose ROLLBACK fails is in an unknown state: close it rather than reuse it.
                if (try? execute(connection, "ROLLBACK")) != nil { checkIn(connection) } else { discard(connection) }
                if attempt < 3, let state = PostgresFailure.sqlState(of: error), state == "40P01" || state == "40001" {
                    continue
                }
                throw PostgresFailure.wrap(error)
            }
        }
    }

    /// Runs one statement and returns its rows (blocking).
    @discardableResult
    func query(_ connection: PostgresConnection, _ query: PostgresQuery) throws -> PostgresQueryResult {
        precondition(!connection.eventLoop.inEventLoop, "a blocking PostgreSQL call on its own event loop would deadlock")
        do {
            return try connection.query(query, logger: logger).wait()
        } catch {
            throw PostgresFailure.wrap(error)
        }
    }

    func execute(_ connection: PostgresConnection, _ sql: String) throws {
        try query(connection, PostgresQuery(unsafeSQL: sql))
    }

    /// A connection not in the pool, for LISTEN: the caller closes it.
    func openDedicated() throws -> PostgresConnection {
        try connect()
    }

    private func checkOut() throws -> PostgresConnection {
        while let connection = idle.withLock({ $0.popLast() }) {
            if !connection.isClosed { return connection }
        }
        return try connect()
    }

    private func checkIn(_ connection: PostgresConnection) {
        guard !connection.isClosed else { return }
        idle.withLock { $0.append(connection) }
    }

    private func discard(_ connection: PostgresConnection) {
        try? connection.close().wait()
    }

    private func connect() throws -> PostgresConnection {
        let id = nextConnectionID.add(1, ordering: .relaxed).oldValue
        do {
            return try PostgresConnection.connect(on: group.next(), configuration: configuration, id: id, logger: logger).wait()
        } catch {
            // The location's description is redacted: the password never reaches the message.
            throw PostgresFailure(message: "cannot connect to \(location.redacted): \(PostgresFailure.failure(from: error).message)",
                                  sqlState: PostgresFailure.sqlState(of: error))
        }
    }
}
