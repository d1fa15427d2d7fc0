import CalibCore
import CalibDBPostgres
import Foundation
import Glibc

/// The PostgreSQL server the contract tests use, found once per test process.
///
/// 1. `CALIBD_TEST_POSTGRES_URL` (what `.ci/run` exports for its throwaway cluster);
/// 2. else, when Debian's `postgresql-15` server binary is installed, a throwaway
///    cluster of our own: `initdb` in a temporary directory, Unix socket only
///    (`listen_addresses=''`), started as the `postgres` user when we are root
///    (the server refuses root), stopped and deleted when the process exits;
/// 3. else none: the PostgreSQL suite is skipped and says why.
enum TestPostgresServer {
    static let binDirectory = "/usr/lib/postgresql/15/bin"

    /// The server's location, or why there is none.
    static let found: Result<PostgresLocation, PostgresLocationError> = {
        if let url = ProcessInfo.processInfo.environment["CALIBD_TEST_POSTGRES_URL"], !url.isEmpty {
            return Result { () throws(PostgresLocationError) in try PostgresLocation(url: url) }
        }
        guard FileManager.default.isExecutableFile(atPath: binDirectory + "/postgres") else {
            return .failure(PostgresLocationError(
                "no PostgreSQL server: set CALIBD_TEST_POSTGRES_URL or install postgresql-15 (\(binDirectory)/postgres not found)"))
        }
        do { return .success(try startThrowawayCluster()) } catch {
            return .failure(PostgresLocationError("postgresql-15 is installed but a throwaway cluster did not start: \(error)"))
        }
    }()

    /// Skip only when there is neither a URL nor a server binary; a URL that does not work,
    /// or a cluster that does not start, fails the tests instead of hiding them.
    static var available: Bool {
        !(ProcessInfo.processInfo.environment["CALIBD_TEST_POSTGRES_URL"] ?? "").isEmpty
            || FileManager.default.isExecutableFile(atPath: binDirectory + "/postgres")
    }

    static let skipReason = "PostgreSQL contract tests skipped: no server — set CALIBD_TEST_POSTGRES_URL or install postgresql-15"

    private static func startThrowawayCluster() throws -> PostgresLocation {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-test-pg-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot { try run("/bin/chown", ["postgres:", directory]) }
        let data = directory + "/data"
        try run(binDirectory + "/initdb", ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync"], asPostgres: asRoot)
        try run(binDirectory + "/pg_ctl", ["-D", data, "-l", directory + "/server.log", "-w", "-o",
                                           "-c listen_addresses='' -c unix_socket_directories='\(directory)' -c fsync=off", "start"],
                asPostgres: asRoot)
        atexit {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-test-pg-\(getpid())").path
            try? TestPostgresServer.run(TestPostgresServer.binDirectory + "/pg_ctl", ["-D", directory + "/data", "-m", "immediate", "stop"],
                                        asPostgres: getuid() == 0)
            try? FileManager.default.removeItem(atPath: directory)
        }
        return try PostgresLocation(url: "postgresql://postgres@/postgres?host=\(directory)")
    }

    /// Runs a tool and waits for it. posix_spawn + waitpid rather than Foundation's `Process`,
    /// whose exit monitoring was seen to miss `runuser`'s exit here (a zombie, and a hung test run).
    static func run(_ tool: String, _ arguments: [String], asPostgres: Bool = false) throws {
        let argv = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
        var actions: posix_spawn_file_actions_t = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ)
        guard spawned == 0 else { throw PostgresLocationError("cannot start \(argv[0]): errno \(spawned)") }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED and WEXITSTATUS, spelled out (they are C macros).
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw PostgresLocationError("\((tool as NSString).lastPathComponent) failed (wait status \(status))")
        }
    }
}
