import Foundation
import Logging

/// A swift-log handler appending lines to a file: each job's log in the
/// workspace, readable with `calibctl job show`.
public struct FileLogHandler: LogHandler {
    private let sink: Sink
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?

    final class Sink: @unchecked Sendable {
        let handle: FileHandle
        let lock = NSLock()
        init(handle: FileHandle) { self.handle = handle }
        deinit { try? handle.close() }
        func write(_ line: String) {
            lock.withLock { handle.write(Data(line.utf8)) }
        }
    }

    /// - Parameter permissions: the workspace's, given to the log file whatever the umask.
    public init(path: String, permissions: WorkspacePermissions? = nil) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        if !FileManager.default.fileExists(atPath: path) {
            FileManager.default.createFile(atPath: path, contents: nil)
        }
        try permissions?.applyToFile(path)
        guard let handle = FileHandle(forWritingAtPath: path) else {
            throw CocoaError(.fileWriteNoPermission, userInfo: [NSFilePathErrorKey: path])
        }
        handle.seekToEndOfFile()
        sink = Sink(handle: handle)
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { $1 } }
        let fields = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\(LogText.escaped("\($0.value)"))" }.joined(separator: " ")
        let stamp = ISO8601DateFormatter.string(from: Date(), timeZone: .gmt, formatOptions: [.withInternetDateTime, .withFractionalSeconds])
        sink.write("\(stamp) \(event.level) \(LogText.escaped("\(event.message)"))\(fields.isEmpty ? "" : " " + fields)\n")
    }
}
