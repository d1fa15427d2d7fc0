import Foundation
import Glibc
import Logging

/// What the kernel told us about the watched trees.
public enum WatchEvent: Sendable, Equatable {
    /// A file was closed after writing, or moved into a watched directory:
    /// it may now be complete.
    case fileReady(String)
    /// A directory appeared (created or moved in) and is now watched; files
    /// already inside it were reported as `fileReady` too.
    case directoryAdded(String)
    /// The kernel's event queue overflowed: events were lost and a full
    /// rescan is needed.
    case overflow
}

/// Recursive watch of directory trees through the kernel's inotify API.
///
/// Why the kernel API and not libinotifytools: libinotifytools keeps
/// process-global state (one inotify descriptor, one static event buffer),
/// reads with whole-second timeouts (so stopping takes up to a second), and
/// in measurements here it missed files created in freshly made
/// subdirectories and a file inside a directory moved in. Watching the kernel
/// directly lets us add the watch for a new directory *and then* list it, so
/// files created in the race window are still found, and lets `stop()`
/// wake the reader at once through a pipe.
///
/// Exactness comes from three layers: events (close-after-write, moved-in,
/// new directories scanned on arrival), a rescan on queue overflow, and the
/// daemon's periodic reconciliation scan.
public final class DirectoryWatcher: @unchecked Sendable {
    private let roots: [String]
    private let logger: Logger
    private let inotifyFD: Int32
    private let wakePipe: (read: Int32, write: Int32)
    private let lock = NSLock()
    private var directories: [Int32: String] = [:]
    private var thread: Thread?
    private let continuation: AsyncStream<WatchEvent>.Continuation
    /// Events in the order the kernel reported them.
    public let events: AsyncStream<WatchEvent>

    private static let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE)

    public init(roots: [String], logger: Logger) throws {
        self.roots = roots
        self.logger = logger
        let fd = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        inotifyFD = fd
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else {
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO)
        }
        for end in fds {
            _ = fcntl(end, F_SETFD, FD_CLOEXEC)
            _ = fcntl(end, F_SETFL, fcntl(end, F_GETFL) | O_NONBLOCK)
        }
        wakePipe = (fds[0], fds[1])
        (events, continuation) = AsyncStream.makeStream(of: WatchEvent.self, bufferingPolicy: .unbounded)
    }

    deinit {
        close(inotifyFD)
        close(wakePipe.read)
        close(wakePipe.write)
    }

    /// Adds watches on every directory of every root, then starts reading.
    /// Files already present are not reported: the caller's startup scan
    /// takes them.
    public func start() throws {
        for root in roots {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw CocoaError(.fileNoSuchFile, userInfo: [NSFilePathErrorKey: root, NSLocalizedDescriptionKey: "watched root \(root) is not a directory"])
            }
            addTree(root, reportFiles: false)
        }
        let thread = Thread { [self] in readLoop() }
        thread.name = "calibd.inotify"
        self.thread = thread
        thread.start()
    }

    /// Stops reading and finishes the event stream; returns at once.
    public func stop() {
        var byte: UInt8 = 1
        _ = write(wakePipe.write, &byte, 1)
    }

    /// Number of directories currently watched.
    public var watchedDirectoryCount: Int { lock.withLock { directories.count } }

    private func addTree(_ directory: String, reportFiles: Bool) {
        // Watch first, then list: a file created between the two is seen
        // twice at worst (the ingester is idempotent), never missed.
        let wd = inotify_add_watch(inotifyFD, directory, Self.mask | UInt32(IN_ONLYDIR))
        guard wd >= 0 else {
            logger.warning("cannot watch directory", metadata: ["dir": "\(directory)", "errno": "\(errno)"])
            return
        }
        lock.withLock { directories[wd] = directory }
        guard let entries = RawFileName.entries(of: directory) else { return }
        for name in entries.sorted() {
            let path = (directory as NSString).appendingPathComponent(name)
            var st = stat()
            guard lstat(path, &st) == 0 else { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                addTree(path, reportFiles: reportFiles)
                if reportFiles { continuation.yield(.directoryAdded(path)) }
            } else if reportFiles {
                continuation.yield(.fileReady(path))
            }
        }
    }

    private func readLoop() {
        let bufferSize = 64 * 1024
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: bufferSize, alignment: MemoryLayout<inotify_event>.alignment)
        defer { buffer.deallocate(); continuation.finish() }
        var pollFDs = [pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
                       pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)]
        while true {
            let ready = poll(&pollFDs, 2, -1)
            if ready < 0 {
                if errno == EINTR { continue }
                logger.error("inotify poll failed", metadata: ["errno": "\(errno)"])
                return
            }
            if pollFDs[1].revents != 0 { return }
            while true {
                let n = read(inotifyFD, buffer, bufferSize)
                if n <= 0 { break }
                var offset = 0
                while offset < n {
                    let event = buffer.load(fromByteOffset: offset, as: inotify_event.self)
                    let nameLength = Int(event.len)
                    var name = ""
                    if nameLength > 0 {
                        let namePointer = buffer.advanced(by: offset + MemoryLayout<inotify_event>.size).assumingMemoryBound(to: CChar.self)
                        name = RawFileName.escaped(Array(UnsafeRawBufferPointer(start: namePointer, count: strnlen(namePointer, nameLength))))
                    }
                    handle(event, name: name)
                    offset += MemoryLayout<inotify_event>.size + nameLength
                }
            }
        }
    }

    private func handle(_ event: inotify_event, name: String) {
        let mask = Int32(bitPattern: event.mask)
        if mask & Int32(IN_Q_OVERFLOW) != 0 {
            logger.warning("inotify queue overflow; a rescan will follow")
            continuation.yield(.overflow)
            return
        }
        if mask & Int32(IN_IGNORED) != 0 {
            lock.withLock { _ = directories.removeValue(forKey: event.wd) }
            return
        }
        guard let directory = lock.withLock({ directories[event.wd] }), !name.isEmpty else { return }
        let path = (directory as NSString).appendingPathComponent(name)
        let isDirectory = mask & Int32(IN_ISDIR) != 0
        if isDirectory {
            if mask & (Int32(IN_CREATE) | Int32(IN_MOVED_TO)) != 0 {
                addTree(path, reportFiles: true)
                continuation.yield(.directoryAdded(path))
            }
        } else if mask & (Int32(IN_CLOSE_WRITE) | Int32(IN_MOVED_TO)) != 0 {
            continuation.yield(.fileReady(path))
        } else if mask & Int32(IN_CREATE) != 0 {
            // A symbolic link is created complete and never closed after writing.
            var st = stat()
            if lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFLNK { continuation.yield(.fileReady(path)) }
        }
    }
}
