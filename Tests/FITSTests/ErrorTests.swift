import Foundation
import Testing
@testable import FITS

@Suite struct ErrorTests {
    @Test func truncatedFile() throws {
        let scratch = try Scratch()
        let path = scratch.path("half.fits")
        let file = try FITSFile.create(path)
        try file.writeEmptyPrimary(header: FITSHeader())
        try file.writeImage([Float](repeating: 1, count: 100 * 100), width: 100, height: 100, extensionName: "SCI")
        try file.close()
        try truncate(path, to: 2_880 * 2 + 20_000)

        guard case .failure(let error) = FITSIntegrity.check(path: path) else {
            Issue.record("truncated file passed the structural check")
            return
        }
        #expect(error.kind == .truncated)
        #expect(error.description.contains(path))
        #expect(error.description.contains("HDU 2 needs 46,080 bytes, file ends after 25,760"))

        let opened = try FITSFile.open(path)
        try opened.moveTo(extensionName: "SCI")
        let readError = #expect(throws: FITSError.self) { try opened.readImage(as: Float.self) }
        #expect(readError?.kind == .truncated)
        #expect(readError?.status != 0)
        #expect(readError?.description.contains(path) == true)
    }

    @Test func truncatedInsideExtensionHeader() throws {
        let scratch = try Scratch()
        let path = scratch.path("cut.fits")
        let file = try FITSFile.create(path)
        try file.writeImage([Int16](repeating: 1, count: 4), width: 2, height: 2)
        try file.writeImage([Int16](repeating: 2, count: 4), width: 2, height: 2)
        try file.close()
        try truncate(path, to: 2_880 * 2 + 1_000)
        guard case .failure(let error) = FITSIntegrity.check(path: path) else {
            Issue.record("file cut inside a header passed the structural check")
            return
        }
        #expect(error.kind == .truncated)
        #expect(error.description.contains("HDU 2"))
    }

    @Test func randomBytesAreNotFITS() throws {
        let scratch = try Scratch()
        let path = scratch.path("x.fits")
        var generator = SystemRandomNumberGenerator()
        try Data((0..<5_000).map { _ in UInt8.random(in: 0...255, using: &generator) })
            .write(to: URL(fileURLWithPath: path))
        guard case .failure(let error) = FITSIntegrity.check(path: path) else {
            Issue.record("random bytes passed the structural check")
            return
        }
        #expect(error.kind == .notFITS)
        #expect(error.description.contains(path))

        let openError = #expect(throws: FITSError.self) { try FITSFile.open(path) }
        #expect(openError?.kind == .notFITS)
        #expect(openError?.messages.allSatisfy { $0.utf8.allSatisfy { (0x20...0x7E).contains($0) } } == true)
    }

    @Test func emptyFile() throws {
        let scratch = try Scratch()
        let path = scratch.path("empty.fits")
        _ = FileManager.default.createFile(atPath: path, contents: Data())
        guard case .failure(let error) = FITSIntegrity.check(path: path) else {
            Issue.record("empty file passed the structural check")
            return
        }
        #expect(error.kind == .truncated || error.kind == .notFITS)
        #expect(error.description.contains(path))
        #expect(error.description.contains("empty"))
        let openError = #expect(throws: FITSError.self) { try FITSFile.open(path) }
        #expect(openError?.kind == .truncated || openError?.kind == .notFITS)
    }

    @Test func missingFile() throws {
        let scratch = try Scratch()
        let path = scratch.path("missing.fits")
        let error = #expect(throws: FITSError.self) { try FITSFile.open(path) }
        #expect(error?.kind == .cfitsio)
        #expect(error?.statusText.isEmpty == false)
        #expect(error?.messages.isEmpty == false)
        #expect(error?.description.contains(path) == true)
        guard case .failure(let checkError) = FITSIntegrity.check(path: path) else {
            Issue.record("missing file passed the structural check")
            return
        }
        #expect(checkError.description.contains(path))
    }

    @Test func messageStackIsDrainedBetweenErrors() throws {
        let scratch = try Scratch()
        let first = #expect(throws: FITSError.self) { try FITSFile.open(scratch.path("first.fits")) }
        let second = #expect(throws: FITSError.self) { try FITSFile.open(scratch.path("second.fits")) }
        #expect(first?.messages.contains { $0.contains("first.fits") } == true)
        #expect(second?.messages.contains { $0.contains("first.fits") } == false)
        #expect(second?.messages.contains { $0.contains("second.fits") } == true)
    }

    @Test func concurrentErrorsKeepTheirOwnMessages() async throws {
        let scratch = try Scratch()
        let paths = (0..<200).map { scratch.path("missing-\($0).fits") }
        let errors = await withTaskGroup(of: (String, FITSError?).self) { group in
            for path in paths {
                group.addTask {
                    do throws(FITSError) {
                        _ = try FITSFile.open(path)
                        return (path, nil)
                    } catch {
                        return (path, error)
                    }
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for (path, error) in errors {
            let messages = try #require(error as FITSError?).messages
            #expect(messages.contains(path))
            #expect(!messages.contains { message in paths.contains { $0 != path && message.contains($0) } })
        }
    }

    @Test func closedFileIsAnError() throws {
        let scratch = try Scratch()
        let path = scratch.path("closed.fits")
        try writeSingleImage([Int32](repeating: 3, count: 4), width: 2, height: 2, to: path)
        let file = try FITSFile.open(path)
        try file.close()
        let error = #expect(throws: FITSError.self) { try file.readHeader() }
        #expect(error?.kind == .invalidArgument)
    }
}
