import Foundation
import Glibc
import Logging

/// The daemon's and its workers' standard-error log (the journal under
/// systemd): swift-log's `StreamLogHandler` layout — `TIME LEVEL LABEL:
/// key=value … [SOURCE] MESSAGE` — with every message and metadata value
/// passed through `LogText.escaped`, so that a file name holding a newline
/// or an escape sequence cannot forge a log line or repaint a terminal.
/// One `write(2)` per record, so records of concurrent workers never interleave.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String

    public init(label: String, level: Logger.Level, metadataProvider: Logger.MetadataProvider? = nil) {
        self.label = label; self.logLevel = level; self.metadataProvider = metadataProvider
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }
            .map { "\(LogText.escaped($0.key))=\(LogText.escaped("\($0.value)"))" }.joined(separator: " ")
        var time = Glibc.time(nil)
        var parts = tm()
        localtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let length = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S%z", &parts)
        let stamp = String(decoding: buffer[..<length].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let line = "\(stamp) \(event.level) \(label):\(fields.isEmpty ? "" : " " + fields) [\(LogText.escaped(event.source))] "
            + "\(LogText.escaped("\(event.message)"))\n"
        _ = line.utf8CString.withUnsafeBufferPointer { bytes in
            Glibc.write(STDERR_FILENO, bytes.baseAddress, bytes.count - 1)
        }
    }
}
