import Crypto
import Foundation
import Glibc

/// SHA-256 of a file's bytes: the identity of a raw frame or a product.
///
/// A renamed or re-copied file has the same checksum and is recognised as
/// the same frame; a file that changed has another and is a new frame.
public enum ContentChecksum {
    public static func sha256(ofFile path: String) throws -> String {
        // O_NONBLOCK and the check below: a FIFO or device put in the file's place between the
        // caller's stat and this open must neither block nor feed endless bytes.
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else {
            throw CocoaError(.fileReadNoPermission, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: "not a regular file"])
        }
        return try sha256(fileDescriptor: fd, path: path)
    }

    /// SHA-256 of the bytes from `handle`'s position to the end of the file.
    public static func sha256(of handle: FileHandle) throws -> String {
        try sha256(fileDescriptor: handle.fileDescriptor, path: "(open file)")
    }

    static func sha256(fileDescriptor fd: Int32, path: String) throws -> String {
        var hasher = SHA256()
        // One reused buffer, no Data per chunk: small header-only files are hashed at syscall speed.
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 20, alignment: 64)
        defer { buffer.deallocate() }
        while true {
            let n = read(fd, buffer.baseAddress, buffer.count)
            if n < 0 {
                if errno == EINTR { continue }
                throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(errno))])
            }
            if n == 0 { break }
            hasher.update(bufferPointer: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
        }
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(64)
        for byte in hasher.finalize() { text.append(hex[Int(byte >> 4)]); text.append(hex[Int(byte & 15)]) }
        return String(decoding: text, as: UTF8.self)
    }
}
