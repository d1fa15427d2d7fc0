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
    public static func write(path: String, _ body: (FITSFile) throws -> Void) throws -> String {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let temporary = (directory as NSString).appendingPathComponent(
            "\(temporaryPrefix)\(UUID().uuidString)-\((path as NSString).lastPathComponent)")
        do {
            let file = try FITSFile.create(temporary, overwrite: true)
            try body(file)
            try file.writeChecksums()
            try file.close()
            try fsyncPath(temporary)
            guard rename(temporary, path) == 0 else {
                throw PipelineError.productWrite("rename to \(path): \(String(cString: strerror(errno)))")
            }
            try fsyncPath(directory)
        } catch {
            unlink(temporary)
            // cfitsio reports a full disk as a generic write error; say what it was.
            var fs = statvfs()
            if statvfs(directory, &fs) == 0 {
                let free = UInt64(fs.f_bavail) * UInt64(fs.f_frsize)
                if free < 16 << 20 {
                    throw PipelineError.productWrite("no space left on the device of \(directory) (\(free / 1024) KiB free): \(error)")
                }
            }
            throw error
        }
        return try ContentChecksum.sha256(ofFile: path)
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
