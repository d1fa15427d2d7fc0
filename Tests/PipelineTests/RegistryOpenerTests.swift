import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
@testable import Pipeline
import Testing

/// The one place that chooses the registry's backend from `database:`, and
/// how a PostgreSQL failure reaches the operator: as a fault that clears on
/// its own when the server is back, named by its redacted location.
@Suite("Registry opener")
struct RegistryOpenerTests {
    @Test("A file path opens the SQLite registry, which names itself by that path")
    func sqlitePath() throws {
        // Given a path in a fresh directory
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("opener-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/calibd.sqlite"
        // When it is opened
        let registry = try RegistryOpener.open(database: path)
        // Then it is the SQLite backend, created there, and prints the path
        #expect(registry is CalibrationDatabase)
        #expect(registry.displayLocation == path)
        #expect(FileManager.default.fileExists(atPath: path))
        #expect(!RegistryOpener.isServer(path))
    }

    @Test("A PostgreSQL URL goes to the server; an unreachable one is a database-unavailable fault without the password")
    func unreachableServer() throws {
        // Given a URL with a password, naming a port where nothing listens
        let url = "postgresql://calibd:s3cret-pw@127.0.0.1:1/calibd"
        #expect(RegistryOpener.isServer(url))
        // When it is opened
        var caught: (any Error)?
        do { _ = try RegistryOpener.open(database: url) } catch { caught = error }
        // Then the PostgreSQL backend tried to connect and failed with a fault calibd waits out
        let error = try #require(caught)
        let location = try PostgresLocation(url: url)
        let fault = try #require(EnvironmentalFault.classify(error, database: location.redacted), "\(error)")
        #expect(fault.kind == .databaseUnavailable)
        #expect(fault.description.contains("postgresql://calibd:***@127.0.0.1:1/calibd"))
        #expect(!fault.description.contains("s3cret-pw"))
        #expect(!"\(error)".contains("s3cret-pw"))
    }

    @Test("An invalid PostgreSQL URL is a configuration error that does not repeat the password")
    func invalidURL() throws {
        let url = "postgresql://calibd:s3cret-pw@127.0.0.1:notaport/calibd"
        var caught: (any Error)?
        do { _ = try RegistryOpener.open(database: url) } catch { caught = error }
        let error = try #require(caught as? UserFacingError)
        #expect(error.status == .config)
        #expect(!"\(error)".contains("s3cret-pw"))
    }

    @Test("SQLSTATEs that clear on their own are environmental faults; a constraint violation is the job's own error",
          arguments: [("08006", EnvironmentalFault.Kind?.some(.databaseUnavailable)), ("57P01", .databaseUnavailable),
                      ("53300", .databaseUnavailable), ("53100", .databaseFull), ("55P03", .databaseLocked),
                      ("23505", nil), ("42P01", nil)])
    func sqlStates(state: String, kind: EnvironmentalFault.Kind?) {
        let failure = PostgresFailure(message: "server said no", sqlState: state)
        #expect(EnvironmentalFault.postgresKind(failure) == kind)
        #expect(EnvironmentalFault.classify(failure, database: "postgresql://u@h:5432/d")?.kind == kind)
    }
}
