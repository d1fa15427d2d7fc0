import Foundation
import Glibc

/// Newline-delimited messages from a pipe (a worker's requests or replies),
/// read with `read(2)` so that a peer's death shows as end of file at once
/// rather than as an exception from a file handle.
final class LineReader: @unchecked Sendable {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    private var chunk = [UInt8](repeating: 0, count: 65_536)

    init(descriptor: Int32) { self.descriptor = descriptor }

    enum Line: Equatable {
        case line(Data)
        case endOfFile
        case timedOut
    }

    /// The next line without its newline; `.timedOut` when nothing complete
    /// arrived within `timeout` seconds (nil: wait for ever).
    func next(timeout: TimeInterval? = nil) -> Line {
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let line = Data(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return .line(line)
            }
            if let deadline {
                let remaining = deadline.timeIntervalSinceNow
                if remaining <= 0 { return .timedOut }
                var poller = pollfd(fd: descriptor, events: Int16(POLLIN), revents: 0)
                let ready = poll(&poller, 1, Int32(min(remaining * 1000, 60_000)) + 1)
                if ready < 0 && errno != EINTR { return .endOfFile }
                if ready <= 0 { continue }
            }
            let n = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return .endOfFile }
            buffer.append(contentsOf: chunk[..<n])
        }
    }

    /// Writes all of `data` to `descriptor`; false if the reader at the other end is gone.
    static func writeAll(_ data: Data, to descriptor: Int32) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if n < 0 { if errno == EINTR { continue }; return false }
                offset += n
            }
            return true
        }
    }
}
