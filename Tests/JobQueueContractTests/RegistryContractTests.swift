import CalibCore
import CalibDB
import CalibDBPostgres
import Foundation
import Testing

/// The registry contract on SQLite (`CalibrationDatabase`, the embedded default).
@Suite("Registry contract on SQLite")
struct SQLiteRegistryContractTests {
    static func make() throws -> RegistryUnderTest {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-registry-\(UUID().uuidString)").path
        let path = directory + "/calibd.sqlite"
        let database = try CalibrationDatabase(path: path)
        return RegistryUnderTest(backend: "sqlite", registry: database, reopen: { try CalibrationDatabase(path: path) })
    }

    @Test("frames: one frame per content, every path kept, replaced and deleted files marked with the reason")
    func frames() throws { try RegistryContract.framesIdentityAndDedupe(try Self.make()) }

    @Test("frames: four handles recording the same bytes at once record one frame")
    func concurrentFrames() throws { try RegistryContract.concurrentFrameDedupe(try Self.make()) }

    @Test("products: QC metrics kept, a new product supersedes the old one of its night and setup and retires its job")
    func products() throws { try RegistryContract.productsAndSupersede(try Self.make()) }

    @Test("association: best product and why, pins never serve another arm's or an unforced QC-failed product, references last")
    func association() throws { try RegistryContract.associationAnswers(try Self.make()) }

    @Test("pins: refused for an unknown product or reversed nights, listed while in force, removed once")
    func pins() throws { try RegistryContract.pinRefusals(try Self.make()) }

    @Test("control: rerun, cancel and reprocess with SQLite's rules and words; a cancelled job's result is fenced out")
    func control() throws { try RegistryContract.controlCommands(try Self.make()) }

    @Test("daemon state: set, read, paused, seen by another handle")
    func daemonState() throws { try RegistryContract.daemonState(try Self.make()) }

    @Test("concurrent readers see exactly one current product while a writer supersedes it 30 times")
    func concurrentReaders() throws { try RegistryContract.concurrentReaders(try Self.make(), rounds: 30) }

    @Test("job history: inputs in time order with their paths, calibration choices, events, attempt timings, durations")
    func jobHistory() throws { try RegistryContract.jobHistory(try Self.make()) }

    @Test("attempts: a postponement is not counted, crashes are, recovery fails the last attempt naming every crash")
    func crashes() throws { try RegistryContract.crashesAndPostponements(try Self.make()) }

    @Test("QC re-evaluation flips products and their jobs both ways; monitoring counts")
    func qcReevaluation() throws { try RegistryContract.qcReevaluationAndCounts(try Self.make()) }
}

/// The same contract on PostgreSQL, each test in a scratch database of its own.
@Suite("Registry contract on PostgreSQL", .enabled(if: TestPostgresServer.available, Comment(rawValue: TestPostgresServer.skipReason)))
struct PostgresRegistryContractTests {
    static func withRegistry(_ body: (RegistryUnderTest) throws -> Void) throws {
        let server = try TestPostgresServer.found.get()
        let scratch = try PostgresScratchDatabase.create(on: server, prefix: "calibd_registry")
        defer { try? PostgresScratchDatabase.drop(scratch, on: server) }
        let registry = try PostgresCalibrationDatabase(location: scratch)
        try body(RegistryUnderTest(backend: "postgresql", registry: registry,
                                   reopen: { try PostgresCalibrationDatabase(location: scratch) }))
    }

    @Test("frames: one frame per content, every path kept, replaced and deleted files marked with the reason")
    func frames() throws { try Self.withRegistry(RegistryContract.framesIdentityAndDedupe) }

    @Test("frames: four connections recording the same bytes at once record one frame")
    func concurrentFrames() throws { try Self.withRegistry(RegistryContract.concurrentFrameDedupe) }

    @Test("products: QC metrics kept, a new product supersedes the old one of its night and setup and retires its job")
    func products() throws { try Self.withRegistry(RegistryContract.productsAndSupersede) }

    @Test("association: best product and why, pins never serve another arm's or an unforced QC-failed product, references last")
    func association() throws { try Self.withRegistry(RegistryContract.associationAnswers) }

    @Test("pins: refused for an unknown product or reversed nights, listed while in force, removed once")
    func pins() throws { try Self.withRegistry(RegistryContract.pinRefusals) }

    @Test("control: rerun, cancel and reprocess with SQLite's rules and words; a cancelled job's result is fenced out")
    func control() throws { try Self.withRegistry(RegistryContract.controlCommands) }

    @Test("daemon state: set, read, paused, seen by another connection")
    func daemonState() throws { try Self.withRegistry(RegistryContract.daemonState) }

    @Test("concurrent readers see exactly one current product while a writer supersedes it 30 times")
    func concurrentReaders() throws { try Self.withRegistry { try RegistryContract.concurrentReaders($0, rounds: 30) } }

    @Test("job history: inputs in time order with their paths, calibration choices, events, attempt timings, durations")
    func jobHistory() throws { try Self.withRegistry(RegistryContract.jobHistory) }

    @Test("attempts: a postponement is not counted, crashes are, recovery fails the last attempt naming every crash")
    func crashes() throws { try Self.withRegistry(RegistryContract.crashesAndPostponements) }

    @Test("QC re-evaluation flips products and their jobs both ways; monitoring counts")
    func qcReevaluation() throws { try Self.withRegistry(RegistryContract.qcReevaluationAndCounts) }

    @Test("the association scenario reads word for word the same on PostgreSQL as on SQLite")
    func sameAnswers() throws {
        let sqlite = try SQLiteRegistryContractTests.make()
        let expected = try RegistryContract.associationTranscript(sqlite.registry)
        try Self.withRegistry { u in
            let answers = try RegistryContract.associationTranscript(u.registry)
            #expect(answers == expected, "\(zip(answers, expected).filter { $0 != $1 })")
        }
    }
}
