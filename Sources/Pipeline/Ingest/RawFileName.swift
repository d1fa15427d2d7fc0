import Foundation
import Glibc

/// File names as Linux stores them — any bytes but `/` and NUL — made safe to carry as Swift
/// strings, record and log.
///
/// A valid UTF-8 name is used as it is (newlines, brackets, `+`, `!` included: cfitsio is given
/// names without interpreting them, see `FITSFile.open`). A name that is not valid UTF-8 cannot
/// be a Swift `String`; it is carried with each undecodable byte written `\xNN`, which is also how
/// it is recorded and logged, and the ingester records it as a problem asking for a rename
/// (`bytes(ofEscapedPath:)` finds the file again from that form).
enum RawFileName {
    /// The entries of a directory (without `.` and `..`), names escaped as above; nil when the
    /// directory cannot be read. Foundation's listing would replace undecodable bytes with U+FFFD
    /// and so lose the file.
    static func entries(of directory: String) -> [String]? {
        guard let dir = opendir(directory) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> String in
                let bytes = raw.prefix(while: { $0 != 0 })
                return escaped(Array(bytes))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// `bytes` as a string: unchanged when valid UTF-8, else every byte outside a valid UTF-8
    /// sequence written `\xNN`.
    static func escaped(_ bytes: [UInt8]) -> String {
        if let text = String(validating: bytes, as: UTF8.self) { return text }
        var result = ""
        var index = 0
        while index < bytes.count {
            // The longest valid UTF-8 sequence starting here (1–4 bytes), else one escaped byte.
            var taken = 0
            for length in (1...4).reversed() where index + length <= bytes.count {
                if let piece = String(validating: bytes[index..<(index + length)], as: UTF8.self) {
                    result += piece
                    taken = length
                    break
                }
            }
            if taken == 0 {
                result += String(format: "\\x%02X", bytes[index])
                taken = 1
            }
            index += taken
        }
        return result
    }

    /// The raw bytes of a path carried in escaped form, or nil when it holds no `\xNN` escape
    /// or decodes to valid UTF-8 (then it was a literal backslash in a valid name).
    static func bytes(ofEscapedPath path: String) -> [UInt8]? {
        let utf8 = Array(path.utf8)
        guard utf8.contains(UInt8(ascii: "\\")) else { return nil }
        var bytes: [UInt8] = []
        var index = 0
        var escapes = 0
        while index < utf8.count {
            if utf8[index] == UInt8(ascii: "\\"), index + 3 < utf8.count, utf8[index + 1] == UInt8(ascii: "x"),
               let value = UInt8(String(decoding: utf8[(index + 2)..<(index + 4)], as: UTF8.self), radix: 16) {
                bytes.append(value)
                index += 4
                escapes += 1
            } else {
                bytes.append(utf8[index])
                index += 1
            }
        }
        guard escapes > 0, String(validating: bytes, as: UTF8.self) == nil else { return nil }
        return bytes
    }

    /// The recorded reason for a name that is not UTF-8.
    static let notUTF8Reason = "file name is not valid UTF-8 (recorded with each undecodable byte as \\xNN): rename it in UTF-8 to have it ingested"

    /// lstat(2) of a path given as raw bytes.
    static func lstat(bytes: [UInt8], _ info: inout stat) -> Bool {
        (bytes + [0]).withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { Glibc.lstat($0.baseAddress!, &info) == 0 }
        }
    }
}
