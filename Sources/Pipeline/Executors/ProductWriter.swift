import FITS
import Foundation
import Glibc

/// Writes a product so that it is either wholly there or not there at all:
/// a temporary file in the destination directory, checksums (DATASUM,
/// CHECKSUM) on every HDU, fsync, then an atomic rename and an fsync of the
/// directory. A crash leaves at most a temporary file, which the daemon
/// removes at its next start.
public enum ProductWriter {
    /// Prefix of temporary product files; anything with it is an orphan after a crash.
    public static let temporaryPrefix = ".calibd-tmp-"

    /// Writes `path` through `body` and returns the SHA-256 of the final file.
    /// - Parameter permissions: the workspace's, applied before the rename so the product never
    ///   appears with the mode the umask gave it; nil leaves the umask's.
    public static func write(path: String, permissions: WorkspacePermissions? = nil, _ body: (FITSFile) throws -> Void) throws -> String {
        try writeTimed(path: path, permissions: permissions, body).checksum
    }

    /// Wall seconds of one product's write: everything short of the two fsyncs, and the fsyncs.
    public struct Timing: Sendable {
        public var writeSeconds = 0.0
        public var fsyncSeconds = 0.0
    }

    /// `write`, also saying how long the writing and the fsyncs took.
    public static func writeTimed(path: String, permissions: WorkspacePermissions? = nil,
                                  _ body: (FITSFile) throws -> Void) throws -> (checksum: String, timing: Timing) {
        let started = DispatchTime.now().uptimeNanoseconds
        var fsyncNanoseconds: UInt64 = 0
        func fsyncTimed(_ path: String) throws {
            let start = DispatchTime.now().uptimeNanoseconds
            defer { fsyncNanoseconds += DispatchTime.now().uptimeNanoseconds - start }
            try fsyncPath(path)
        }
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(
            "\(temporaryPrefix)\(UUID().uuidString)-\((path as NSString).lastPathComponent)")
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            let file = try FITSFile.create(temporary, overwrite: true)
            try body(file)
            try file.writeChecksums()
            try file.close()
            // The bytes are final once closed: hash them while fsync waits for the disk
            // (for a 4096² flat, ~0.1 s of each that used to run one after the other).
            // The handle is opened here, before the rename moves the name away.
            guard let reader = FileHandle(forReadingAtPath: temporary) else {
                throw PipelineError.productWrite("open \(temporary) to checksum: \(String(cString: strerror(errno)))")
            }
            let hashing = BackgroundChecksum(reader)
            // Whatever happens next, the hash finishes before its handle closes.
            defer { _ = try? hashing.result(); try? reader.close() }
            try permissions?.applyToFile(temporary)
            try fsyncTimed(temporary)
            guard rename(temporary, path) == 0 else {
                throw PipelineError.productWrite("rename to \(path): \(String(cString: strerror(errno)))")
            }
            try fsyncTimed(directory)
            let checksum = try hashing.result()
            let total = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            let fsyncs = Double(fsyncNanoseconds) / 1e9
            return (checksum, Timing(writeSeconds: total - fsyncs, fsyncSeconds: fsyncs))
        } catch {
            unlink(temporary)
            // cfitsio reports a full disk or a read-only file system as a generic
            // write error; say what it was, so the job waits instead of failing.
            if let fault = EnvironmentalFault.classify(error, database: directory, path: directory)
                ?? EnvironmentalFault.diagnose(directory: directory) {
                throw fault
            }
            throw error
        }
    }

    /// SHA-256 of a file handle's bytes, computed on another thread.
    private final class BackgroundChecksum: @unchecked Sendable {
        private let done = DispatchSemaphore(value: 0)
        private var outcome: Result<String, any Error> = .success("")
        private var finished = false

        init(_ handle: FileHandle) {
            nonisolated(unsafe) let handle = handle
            DispatchQueue.global().async { [self] in
                outcome = Result { try ContentChecksum.sha256(of: handle) }
                done.signal()
            }
        }

        /// Waits for the checksum; may be called more than once, from the writing thread.
        func result() throws -> String {
            if !finished { done.wait(); finished = true }
            return try outcome.get()
        }
    }

    /// Writes a file beside a product (a QC plot) through a temporary name with
    /// the same prefix as products', so a crash mid-write leaves only an
    /// orphan the next start removes (Foundation's atomic write leaves its own
    /// `.dat.nosync…` names, which nothing would clean).
    public static func writeSidecar(_ data: Data, to path: String, permissions: WorkspacePermissions? = nil) throws {
        let directory = (path as NSString).deletingLastPathComponent
        let temporary = (directory as NSString).appendingPathComponent(
            "\(temporaryPrefix)\(UUID().uuidString)-\((path as NSString).lastPathComponent)")
        do {
            try data.write(to: URL(fileURLWithPath: temporary))
            try permissions?.applyToFile(temporary)
            guard rename(temporary, path) == 0 else {
                throw PipelineError.productWrite("rename to \(path): \(String(cString: strerror(errno)))")
            }
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Removes temporary product files left by a crash; returns how many.
    @discardableResult
    public static func removeOrphans(under root: String) -> Int {
        guard let walker = FileManager.default.enumerator(atPath: root) else { return 0 }
        var removed = 0
        for case let relative as String in walker where (relative as NSString).lastPathComponent.hasPrefix(temporaryPrefix) {
            if unlink((root as NSString).appendingPathComponent(relative)) == 0 { removed += 1 }
        }
        return removed
    }

    static func fsyncPath(_ path: String) throws {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw PipelineError.productWrite("open \(path) for fsync: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw PipelineError.productWrite("fsync \(path): \(String(cString: strerror(errno)))") }
    }
}
