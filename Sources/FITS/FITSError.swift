import CFITSIO

/// A failure reading or writing FITS data, carrying cfitsio's own diagnosis where there is one.
public struct FITSError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable {
        /// The file does not start with a FITS primary header.
        case notFITS
        /// The file is shorter than its headers promise, typically a product still being written.
        case truncated
        /// cfitsio reported an error not covered by a more specific kind.
        case cfitsio
        /// Valid FITS that this module does not model (e.g. complex or variable-length columns).
        case unsupported
        /// The caller passed values that cannot be written or read as asked.
        case invalidArgument
        /// A keyword that had to be present is absent.
        case keywordMissing
        /// The bytes contradict themselves: compressed data that do not decompress or fail their
        /// check, a structural keyword that is not a valid value, bytes after the last HDU.
        case damaged
        /// Larger than a configured bound allows (e.g. a decompressed size).
        case tooLarge
    }

    public let kind: Kind
    /// cfitsio status code, 0 when the error was detected by this module.
    public let status: Int32
    /// cfitsio's short text for `status` (ffgerr), empty when `status` is 0.
    public let statusText: String
    /// cfitsio's error-message stack, drained when the error occurred so the next error starts clean.
    public let messages: [String]
    public let path: String
    /// What was being attempted, e.g. "reading image pixels of HDU 2".
    public let operation: String
    /// Facts found by this module that explain the failure, e.g. expected versus actual byte counts.
    public let detail: String

    init(kind: Kind, path: String, operation: String, detail: String = "",
         status: Int32 = 0, messages: [String] = []) {
        self.kind = kind
        self.status = status
        self.statusText = status == 0 ? "" : FITSError.text(forStatus: status)
        self.messages = messages
        self.path = path
        self.operation = operation
        self.detail = detail
    }

    public var description: String {
        var text = "\(path): \(kind.label): \(operation)"
        if !detail.isEmpty { text += ": \(detail)" }
        if status != 0 { text += " (cfitsio \(status): \(statusText))" }
        if !messages.isEmpty { text += " [\(messages.joined(separator: " | "))]" }
        return text
    }

    /// Empties cfitsio's process-wide message stack and returns what it held; see `exclusiveCFITSIO`.
    /// Bytes outside printable ASCII are replaced because cfitsio echoes raw header bytes of
    /// non-FITS files into its messages.
    static func drainMessages() -> [String] {
        var messages: [String] = []
        var buffer = [CChar](repeating: 0, count: Int(FLEN_ERRMSG))
        while ffgmsg(&buffer) != 0 {
            let bytes = buffer.prefix { $0 != 0 }.map { (0x20...0x7E).contains($0) ? UInt8($0) : UInt8(ascii: "?") }
            let message = String(decoding: bytes, as: UTF8.self).trimmingBlanks()
            if !message.isEmpty { messages.append(message) }
        }
        return messages
    }

    static func text(forStatus status: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(FLEN_STATUS))
        ffgerr(status, &buffer)
        return String(nulTerminated: buffer)
    }
}

extension FITSError.Kind {
    var label: String {
        switch self {
        case .notFITS: "not a FITS file"
        case .truncated: "truncated"
        case .cfitsio: "cfitsio error"
        case .unsupported: "unsupported"
        case .invalidArgument: "invalid argument"
        case .keywordMissing: "keyword missing"
        case .damaged: "damaged"
        case .tooLarge: "too large"
        }
    }
}
