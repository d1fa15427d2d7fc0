import CalibCore
import Foundation
import Testing

@Suite("postgresql:// locations and the database: setting")
struct PostgresLocationTests {
    @Test("a TCP URL gives host, port, user, database and password")
    func tcp() throws {
        let location = try PostgresLocation(url: "postgresql://calibd:s3cr%40t@db.example:6543/calib")
        #expect(location.endpoint == .tcp(host: "db.example", port: 6543))
        #expect(location.user == "calibd" && location.database == "calib" && location.password == "s3cr@t")
    }

    @Test("a socket directory gives the socket file; the database defaults to the user's name")
    func socket() throws {
        let location = try PostgresLocation(url: "postgresql://calibd@/?host=/run/postgresql")
        #expect(location.endpoint == .unixSocket(path: "/run/postgresql/.s.PGSQL.5432"))
        #expect(location.database == "calibd" && location.password == nil)
    }

    @Test("a password file's first line is the password")
    func passfile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("pgpass-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "hunter2\nignored\n".write(toFile: path, atomically: true, encoding: .utf8)
        let location = try PostgresLocation(url: "postgresql://calibd@/calib?host=/run/postgresql&passfile=\(path)")
        #expect(location.password == "hunter2" && location.passwordFile == path)
    }

    @Test("the password never appears in descriptions, dumps or errors")
    func redaction() throws {
        let location = try PostgresLocation(url: "postgresql://calibd:topsecret@db:5432/calib")
        var dumped = ""
        dump(location, to: &dumped)
        for text in ["\(location)", String(reflecting: location), location.redacted, dumped] {
            #expect(!text.contains("topsecret"), "\(text)")
        }
        #expect(location.redacted == "postgresql://calibd:***@db:5432/calib")
        let bad = #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: "postgresql://calibd:topsecret@db:99999/calib") }
        #expect(bad?.message.contains("port") == true && bad?.message.contains("topsecret") == false)
    }

    @Test("malformed URLs are refused with the part that is wrong")
    func malformed() {
        #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: "postgresql://db:5432/calib") }   // no user
        #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: "postgresql://u@/calib") }        // no host
        #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: "postgresql://u@db/calib?sslmode=require") }
        #expect(throws: PostgresLocationError.self) { try PostgresLocation(url: "postgresql://u@db/calib?colour=blue") }
    }

    /// Loads a calibd.yaml with `database:` set, next to the repository's instrument profiles.
    func load(database: String) throws -> ConfigurationError? {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-pgconf-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try "instruments: \(repositoryConfig)/instruments\ndatabase: \"\(database)\"\n"
            .write(toFile: dir + "/calibd.yaml", atomically: true, encoding: .utf8)
        do { _ = try ConfigurationLoader.load(path: dir + "/calibd.yaml"); return nil } catch { return error }
    }

    @Test("database: postgresql://… is accepted when valid and refused when not, without the password")
    func validated() throws {
        #expect(try load(database: "postgresql://calibd:topsecret@db:5432/calib") == nil)
        #expect(try load(database: "postgresql://calibd@/calib?host=/run/postgresql") == nil)
        let invalid = try #require(try load(database: "postgresql://calibd:topsecret@db:0/calib"))
        #expect(invalid.key == "database" && invalid.message.contains("invalid PostgreSQL URL") && !invalid.description.contains("topsecret"))
        // And an SQLite path is still accepted as before
        #expect(try load(database: "db/calibd.sqlite") == nil)
    }
}
