import CalibCore
import Foundation
import Glibc

/// The daemon's doorbell for other processes: `calibctl` writes its request
/// to the database (rerun, cancel, reprocess, pause, resume), then closes
/// this file after opening it for writing; the daemon watches its directory
/// with inotify (through `DirectoryWatcher`) and plans at once. So a request
/// is acted on within a second while the daemon, idle, polls nothing.
///
/// The file lives in its own directory, `<workspace>/control/wake`, so that
/// the watch sees nothing of the products and logs written beside it.
public struct DaemonWakeFile: Sendable {
    public let path: String

    public var directory: String { (path as NSString).deletingLastPathComponent }

    public init(workspace: String) {
        path = ((workspace as NSString).appendingPathComponent("control") as NSString).appendingPathComponent("wake")
    }

    /// Creates the directory, which must exist before the daemon can watch it.
    public func prepare() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    /// Wakes a running daemon. Returns false when the file cannot be written
    /// (no daemon ever ran in this workspace, or no permission); the daemon
    /// then sees the request at its next periodic check, within 30 s.
    @discardableResult
    public func ring() -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o664)
        guard fd >= 0 else { return false }
        // Closing a file opened for writing is the inotify event (IN_CLOSE_WRITE); no byte is needed.
        close(fd)
        return true
    }
}
