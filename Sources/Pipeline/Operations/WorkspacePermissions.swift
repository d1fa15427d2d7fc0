import CalibCore
import Foundation
import Glibc

/// The workspace is the daemon's control path (calibctl changes what the
/// daemon does through the database in it), so only its owner — and, when
/// configured, one group — may enter it: directories 0750/0770, the
/// database files 0640/0660, nothing for others.
public struct WorkspacePermissions: Sendable {
    public let configuration: CalibdConfiguration

    public init(configuration: CalibdConfiguration) { self.configuration = configuration }

    public struct Failure: Error, CustomStringConvertible {
        public let path: String
        public let reason: String
        public var description: String { "cannot restrict access to \(path): \(reason)" }
    }

    public func apply() throws {
        var group: gid_t?
        if let name = configuration.controlGroup {
            guard let entry = getgrnam(name) else { throw Failure(path: configuration.workspace, reason: "no group '\(name)'") }
            group = entry.pointee.gr_gid
        }
        let directoryMode: mode_t = group == nil ? 0o750 : 0o770
        let fileMode: mode_t = group == nil ? 0o640 : 0o660
        for directory in [configuration.workspace, configuration.productsDirectory, configuration.logsDirectory] {
            try set(directory, mode: directoryMode, group: group)
        }
        let database = configuration.database
        for file in [database, database + "-wal", database + "-shm", database + ".migrate-lock"]
        where FileManager.default.fileExists(atPath: file) {
            try set(file, mode: fileMode, group: group)
        }
    }

    /// Mode of every file calibd writes in the workspace (products, plots, job logs): 0640, or
    /// 0660 with a control group — set explicitly, since the process umask may be anything
    /// (077 would hide products from the control group, 002 would open them to others).
    public var fileMode: mode_t { configuration.controlGroup == nil ? 0o640 : 0o660 }

    /// Gives one file the workspace's file mode and group, whatever the umask it was created under.
    public func applyToFile(_ path: String) throws {
        var group: gid_t?
        if let name = configuration.controlGroup {
            guard let entry = getgrnam(name) else { throw Failure(path: path, reason: "no group '\(name)'") }
            group = entry.pointee.gr_gid
        }
        try set(path, mode: fileMode, group: group)
    }

    /// Gives a directory tree in the workspace (the night reports) the workspace's modes and
    /// group: directories 0750 (0770), files 0640 (0660), whatever the umask they were made under.
    public func applyToTree(_ root: String) throws {
        var group: gid_t?
        if let name = configuration.controlGroup {
            guard let entry = getgrnam(name) else { throw Failure(path: root, reason: "no group '\(name)'") }
            group = entry.pointee.gr_gid
        }
        let directoryMode: mode_t = group == nil ? 0o750 : 0o770
        try set(root, mode: directoryMode, group: group)
        guard let walker = FileManager.default.enumerator(atPath: root) else { return }
        for case let relative as String in walker {
            let path = (root as NSString).appendingPathComponent(relative)
            var info = stat()
            guard lstat(path, &info) == 0 else { continue }
            switch info.st_mode & S_IFMT {
            case S_IFDIR: try set(path, mode: directoryMode, group: group)
            case S_IFREG: try set(path, mode: fileMode, group: group)
            default: continue
            }
        }
    }

    private func set(_ path: String, mode: mode_t, group: gid_t?) throws {
        if let group, chown(path, getuid(), group) != 0 {
            throw Failure(path: path, reason: String(cString: strerror(errno)))
        }
        guard chmod(path, mode) == 0 else { throw Failure(path: path, reason: String(cString: strerror(errno))) }
    }
}
