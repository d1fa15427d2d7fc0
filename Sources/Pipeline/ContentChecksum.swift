import Crypto
import Foundation

/// SHA-256 of a file's bytes: the identity of a raw frame or a product.
///
/// A renamed or re-copied file has the same checksum and is recognised as
/// the same frame; a file that changed has another and is a new frame.
public enum ContentChecksum {
    public static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        defer { try? handle.close() }
        return try sha256(of: handle)
    }

    /// SHA-256 of the bytes from `handle`'s position to the end of the file.
    public static func sha256(of handle: FileHandle) throws -> String {
        var hasher = SHA256()
        while true {
            let chunk = try handle.read(upToCount: 4 << 20) ?? Data()
            if chunk.isEmpty { break }
            hasher.update(data: chunk)
        }
        return hasher.finalize().map { String(format: "%02x", $0) }.joined()
    }
}
