import CalibCore
import CalibDBPostgres
import Foundation
import Glibc
import Testing

/// Issue #16: `calibd --once` and `calibctl` on PostgreSQL, through the real
/// binaries, against the same night on SQLite. The server is
/// `CALIBD_TEST_POSTGRES_URL` (a scratch database is made in it) or, without
/// it, a throwaway cluster of Debian's postgresql-15 (`initdb` in a temporary
/// directory, Unix socket only); with neither the suite is skipped, and says so.
@Suite("End to end on PostgreSQL", .serialized, .enabled(if: PostgresForEndToEnd.available, PostgresForEndToEnd.skipReason))
struct PostgresEndToEndTests {
    func statusJSON(_ ws: TestWorkspace) throws -> [String: Any] {
        try #require(try ws.json(["status"]) as? [String: Any])
    }

    @Test("A simulated night on PostgreSQL gives the same frames, jobs and QC verdicts as on SQLite; best and calibs answer")
    func nightOnPostgres() throws {
        // Given the same simulated night in two workspaces, one with its registry on PostgreSQL
        let server = try PostgresForEndToEnd.scratchDatabase()
        let onPostgres = try TestWorkspace()
        let onSQLite = try TestWorkspace()
        defer { onPostgres.remove(); onSQLite.remove() }
        let yaml = try String(contentsOfFile: onPostgres.config, encoding: .utf8)
        try (yaml + "\ndatabase: \(server)\n").write(toFile: onPostgres.config, atomically: true, encoding: .utf8)
        for ws in [onPostgres, onSQLite] { try ws.simulate(size: 256, arms: "RED") }

        // When calibd --once runs on each
        for ws in [onPostgres, onSQLite] {
            let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
            #expect(run.batchRanToEnd, "\(run.stderr)")
        }

        // Then no SQLite file was made for the PostgreSQL workspace, and the two registries agree
        #expect(!FileManager.default.fileExists(atPath: onPostgres.database))
        let pg = try statusJSON(onPostgres), lite = try statusJSON(onSQLite)
        #expect((pg["database"] as? String)?.hasPrefix("postgresql://") == true)
        #expect(pg["frames"] as? Int == lite["frames"] as? Int && (pg["frames"] as? Int ?? 0) > 0)
        let pgJobs = try #require(pg["jobs"] as? [String: Int]), liteJobs = try #require(lite["jobs"] as? [String: Int])
        #expect(pgJobs == liteJobs)
        #expect(pgJobs.values.reduce(0, +) > 0)
        let pgCalibs = try onPostgres.calibctl(["calibs"]), liteCalibs = try onSQLite.calibctl(["calibs"])
        #expect(pgCalibs.status == 0, "\(pgCalibs.stderr)")
        #expect(pgCalibs.stdout.contains("MBIAS"))
        // Product ids and paths may differ; the product types and their QC verdicts may not.
        func verdicts(_ text: String) -> [String] {
            text.split(separator: "\n").map { line in
                line.split(separator: " ").filter { ["MBIAS", "MDARK", "DISP_MAP", "ORDER_CENTRES", "MFLAT", "pass", "FAIL", "passed",
                                                     "failed"].contains(String($0)) }.joined(separator: " ")
            }.sorted()
        }
        #expect(verdicts(pgCalibs.stdout) == verdicts(liteCalibs.stdout))
        let best = try onPostgres.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-21"])
        #expect(best.status == 0, "\(best.stderr)")
        #expect(best.stdout.contains("MBIAS for 2026-11-21") && best.stdout.contains("QC passed"), "\(best.stdout)")
    }
}

/// The PostgreSQL server for this suite. Spawns only `initdb`/`pg_ctl` (tests may spawn via their own helpers).
enum PostgresForEndToEnd {
    static let binDirectory = "/usr/lib/postgresql/15/bin"
    static var available: Bool {
        !(ProcessInfo.processInfo.environment["CALIBD_TEST_POSTGRES_URL"] ?? "").isEmpty
            || FileManager.default.isExecutableFile(atPath: binDirectory + "/postgres")
    }
    static let skipReason: Comment = "PostgreSQL end-to-end test skipped: no server — set CALIBD_TEST_POSTGRES_URL or install postgresql-15"

    /// A URL to a fresh database on the server (dropped with the server or left to the CI cluster's end).
    static func scratchDatabase() throws -> String {
        if let url = ProcessInfo.processInfo.environment["CALIBD_TEST_POSTGRES_URL"], !url.isEmpty {
            let scratch = try PostgresScratchDatabase.create(on: try PostgresLocation(url: url), prefix: "e2e")
            return scratchURL(scratch)
        }
        let location = try cluster.get()
        return scratchURL(try PostgresScratchDatabase.create(on: location, prefix: "e2e"))
    }

    static func scratchURL(_ location: PostgresLocation) -> String {
        switch location.endpoint {
        case .tcp(let host, let port):
            let auth = location.password.map { "\(location.user):\($0)" } ?? location.user
            return "postgresql://\(auth)@\(host):\(port)/\(location.database)"
        case .unixSocket(let path):
            return "postgresql://\(location.user)@/\(location.database)?host=\((path as NSString).deletingLastPathComponent)"
        }
    }

    static let cluster: Result<PostgresLocation, any Error> = Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-e2e-pg-\(getpid())").path
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot { try run("/bin/chown", ["postgres:", directory]) }
        try run(binDirectory + "/initdb", ["-D", directory + "/data", "-U", "postgres", "-A", "trust", "--no-sync"], asPostgres: asRoot)
        try run(binDirectory + "/pg_ctl", ["-D", directory + "/data", "-l", directory + "/server.log", "-w", "-o",
                                           "-c listen_addresses='' -c unix_socket_directories='\(directory)' -c fsync=off", "start"],
                asPostgres: asRoot)
        atexit {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-e2e-pg-\(getpid())").path
            try? PostgresForEndToEnd.run(PostgresForEndToEnd.binDirectory + "/pg_ctl",
                                         ["-D", directory + "/data", "-m", "immediate", "stop"], asPostgres: getuid() == 0)
            try? FileManager.default.removeItem(atPath: directory)
        }
        return try PostgresLocation(url: "postgresql://postgres@/postgres?host=\(directory)")
    }

    /// posix_spawn + waitpid: Foundation's `Process` was seen to miss `runuser`'s exit (see TestPostgresServer).
    static func run(_ tool: String, _ arguments: [String], asPostgres: Bool = false) throws {
        let argv = asPostgres ? ["/usr/sbin/runuser", "-u", "postgres", "--", tool] + arguments : [tool] + arguments
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var cArguments = argv.map { strdup($0) } + [nil]
        defer { cArguments.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, argv[0], &actions, nil, &cArguments, environ) == 0 else {
            throw PostgresLocationError("cannot start \(argv[0])")
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        guard status & 0x7f == 0, (status >> 8) & 0xff == 0 else {
            throw PostgresLocationError("\((tool as NSString).lastPathComponent) failed (wait status \(status))")
        }
    }
}
