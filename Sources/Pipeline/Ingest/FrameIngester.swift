import CalibCore
import CalibDB
import FITS
import Foundation
import Glibc
import Logging

/// What happened to one file offered for ingest.
public enum IngestOutcome: Sendable, Equatable {
    /// A new frame was recorded (usable, or a problem with its reason).
    case recorded(FrameRecord)
    /// The same bytes were already recorded under another path; this path was added.
    case alias(frameId: Int64)
    /// Already recorded at this path with the same size and modification time.
    case unchanged
    /// Not for us: a hidden or temporary name, a directory, not a raw-frame name.
    case ignored(String)
    /// Perhaps still being written; offer it again at `retryAt`.
    case deferred(reason: String, retryAt: Date)
}

/// Takes one file from disk into the database: checks it is complete and a
/// FITS file, identifies it by checksum, classifies it by its instrument's
/// profile and records it. Never throws for a bad file: a bad file is
/// recorded with its reason. It throws only when the database itself fails.
public struct FrameIngester: Sendable {
    public let configuration: CalibdConfiguration
    public let database: any CalibrationRegistry
    public let logger: Logger
    /// When set, files are examined in a worker process (see `IsolatedExaminer`); else here.
    public var isolation: IsolatedExaminer?

    public init(configuration: CalibdConfiguration, database: any CalibrationRegistry, logger: Logger) {
        self.configuration = configuration; self.database = database; self.logger = logger
    }

    /// Ingests one file and records the outcome.
    ///
    /// - Parameter final: take the file as it is now. Batch runs (`--once`,
    ///   `calibctl ingest`) and files that stayed unchanged for
    ///   `giveUpSeconds` are final: a truncated one is recorded as a problem.
    ///   Otherwise a structurally incomplete file is deferred, since its
    ///   writer may not be done. Stability in time is the caller's business.
    public func ingest(path: String, now: Date = Date(), final: Bool = false) throws -> IngestOutcome {
        try ingest(batch: [path], now: now, final: final)[0]
    }

    /// Ingests several files, recording them in one transaction (one commit
    /// for a burst of files instead of one per file).
    public func ingest(batch paths: [String], now: Date = Date(), final: Bool = false) throws -> [IngestOutcome] {
        var outcomes: [IngestOutcome?] = []
        var pending: [(index: Int, frame: FrameRecord, path: String, mtime: Double)] = []
        let known = try database.knownPaths(paths)
        for (index, (path, examination)) in zip(paths, try examinations(of: paths, known: known, now: now, final: final)).enumerated() {
            switch examination {
            case .done(let outcome): outcomes.append(outcome)
            case .record(let frame, let mtime):
                outcomes.append(nil)
                pending.append((index, frame, path, mtime))
            }
        }
        let stored = try database.record(batch: pending.map { ($0.frame, $0.path, $0.mtime) })
        for (entry, (frame, isNew)) in zip(pending, stored) {
            if isNew {
                if frame.status == .ok {
                    logger.info("frame recorded", metadata: [
                        "frame.path": "\(LogText.escaped(entry.path))", "frame.id": "\(frame.id!)", "frame.type": "\(frame.frameType.rawValue)",
                        "night": "\(frame.night ?? "-")", "setup": "\(frame.setup ?? "")",
                    ])
                } else {
                    logger.warning("frame not usable", metadata: ["frame.path": "\(LogText.escaped(entry.path))", "reason": "\(LogText.escaped(frame.problem ?? ""))"])
                }
                outcomes[entry.index] = .recorded(frame)
            } else {
                logger.info("same bytes as an already recorded frame", metadata: ["frame.path": "\(LogText.escaped(entry.path))", "frame.id": "\(frame.id!)"])
                outcomes[entry.index] = .alias(frameId: frame.id!)
            }
        }
        return outcomes.map { $0! }
    }

    /// Each file examined, in a worker process when isolated.
    func examinations(of paths: [String], known: [String: KnownPath], now: Date, final: Bool) throws -> [Examination] {
        if let isolation { return try isolation.examine(paths, known: known, now: now, final: final) }
        return try paths.map { try examine(path: $0, known: known[$0], now: now, final: final) }
    }

    enum Examination {
        case done(IngestOutcome)
        case record(FrameRecord, mtime: Double)
    }

    /// Everything about one file short of writing to the database.
    func examine(path: String, known: KnownPath?, now: Date, final: Bool) throws -> Examination {
        let settings = configuration.ingest
        let name = (path as NSString).lastPathComponent
        guard settings.accepts(fileName: name) else { return .done(.ignored("name \(name) is ignored or not a FITS name")) }
        func problem(_ reason: String, size: Int64, mtime: Double, identity: String,
                     instrument: String? = nil, type: FrameType = .unknown) -> Examination {
            .record(FrameRecord(checksum: identity, path: path, sizeBytes: size, status: .problem, problem: reason,
                                instrument: instrument, frameType: type, recordedAt: now), mtime: mtime)
        }

        var linkInfo = stat()
        guard lstat(path, &linkInfo) == 0 else {
            if let bytes = RawFileName.bytes(ofEscapedPath: path), RawFileName.lstat(bytes: bytes, &linkInfo) {
                if let known, known.sizeBytes == Int64(linkInfo.st_size), known.mtime == Self.mtime(linkInfo) { return .done(.unchanged) }
                return problem(RawFileName.notUTF8Reason, size: Int64(linkInfo.st_size), mtime: Self.mtime(linkInfo),
                               identity: "name:\(path):\(linkInfo.st_size):\(Self.mtime(linkInfo))")
            }
            return .done(.ignored("vanished before it could be read"))
        }
        let isLink = (linkInfo.st_mode & S_IFMT) == S_IFLNK
        var info = stat()
        if stat(path, &info) != 0 {
            let why = errno == ELOOP ? "symbolic link loop" : isLink ? "dangling symbolic link" : String(cString: strerror(errno))
            return problem(why, size: 0, mtime: Self.mtime(linkInfo), identity: "unreadable:\(path):\(why)")
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .done(.ignored("directory"))
        default:
            // Never opened: a FIFO would block the reader, a device would feed it forever.
            if let known, known.sizeBytes == 0, known.mtime == Self.mtime(linkInfo) { return .done(.unchanged) }
            let kind = Self.kindName(info.st_mode)
            let target = isLink ? Self.resolved(path).map { " (a symbolic link to \($0))" } ?? " (a symbolic link)" : ""
            return problem("not a regular file: a \(kind)\(target); only regular FITS files are read", size: 0,
                           mtime: Self.mtime(linkInfo), identity: "kind:\(path):\(kind):\(Self.mtime(linkInfo))")
        }
        let size = Int64(info.st_size)
        let mtime = Self.mtime(info)
        if isLink, let target = Self.resolved(path), !configuration.watch.isEmpty,
           !configuration.watch.contains(where: { root in Self.isWithin(target, root: root) }) {
            // Following a link out of the raw roots would let anyone who can write there make calibd read any file.
            return problem("symbolic link points outside the watched roots (to \(target))", size: size, mtime: mtime,
                           identity: "outside:\(path):\(target)")
        }
        if let known, known.sizeBytes == size, known.mtime == mtime {
            return .done(.unchanged)
        }
        guard access(path, R_OK) == 0 else {
            return problem("permission denied: the daemon cannot read this file", size: size, mtime: mtime,
                           identity: "unreadable:\(path):\(size):\(mtime)")
        }
        let checksum: String
        do { checksum = try ContentChecksum.sha256(ofFile: path) } catch {
            return problem("cannot read: \(error.localizedDescription)", size: size, mtime: mtime, identity: "unreadable:\(path):\(size):\(mtime)")
        }
        // The file may have grown while we read it; take it next time.
        var after = stat()
        if stat(path, &after) != 0 || Int64(after.st_size) != size || Self.mtime(after) != mtime {
            return .done(.deferred(reason: "changed while being read", retryAt: now.addingTimeInterval(max(settings.stableSeconds, 0.2))))
        }

        let header: FITSHeader
        let summary: FITSSummary
        switch FITSIntegrity.check(path: path, maxDecompressedBytes: settings.maxDecompressedBytes) {
        case .failure(let error):
            if error.kind == .truncated && !final {
                return .done(.deferred(reason: "incomplete FITS file (\(error.detail)); may still be written",
                                       retryAt: now.addingTimeInterval(settings.giveUpSeconds)))
            }
            return problem(Self.describe(error), size: size, mtime: mtime, identity: checksum)
        case .success(let found):
            summary = found
            do { header = try Self.classificationHeader(path: path, summary: found) } catch {
                return problem(Self.describe(error), size: size, mtime: mtime, identity: checksum)
            }
        }

        guard let profile = configuration.profile(for: header) else {
            let instrument = header.string("INSTRUME").map { "INSTRUME = '\($0)'" } ?? "no INSTRUME keyword"
            return problem("no instrument profile claims this file (\(instrument))", size: size, mtime: mtime, identity: checksum)
        }
        let imageShape = summary.hduShapes.first { $0.count >= 2 }
        let verdict = FrameHeaderExamination(header: header, profile: profile, imageShape: imageShape)
        return .record(FrameRecord(
            checksum: checksum, path: path, sizeBytes: size,
            status: verdict.problem == nil ? .ok : .problem, problem: verdict.problem,
            instrument: verdict.instrument, frameType: verdict.type, lamp: verdict.lamp,
            night: verdict.night?.description, setup: verdict.setup?.canonical,
            mjdObs: verdict.mjd, exptime: verdict.exposureTime,
            tplStart: verdict.templateStart, tplNexp: verdict.templateCount,
            recordedAt: now), mtime: mtime)
    }

    /// What `ls -l` would call a file of this mode.
    static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: "FIFO (named pipe)"
        case S_IFCHR: "character device"
        case S_IFBLK: "block device"
        case S_IFSOCK: "socket"
        case S_IFDIR: "directory"
        case S_IFLNK: "symbolic link"
        default: "file of unknown kind"
        }
    }

    /// The canonical target of a path (symbolic links resolved), or nil.
    static func resolved(_ path: String) -> String? {
        guard let pointer = realpath(path, nil) else { return nil }
        defer { free(pointer) }
        return String(cString: pointer)
    }

    /// True when `path` (canonical) lies in `root` (resolved too, so a root given through a link still counts).
    static func isWithin(_ path: String, root: String) -> Bool {
        let base = resolved(root) ?? root
        return path == base || path.hasPrefix(base.hasSuffix("/") ? base : base + "/")
    }

    /// The primary header, followed by the first image extension's cards when
    /// the primary holds no data (tile-compressed `.fz` files and
    /// multi-extension raw files keep exposure keywords there).
    static func classificationHeader(path: String, summary: FITSSummary) throws(FITSError) -> FITSHeader {
        var header = summary.primaryHeader
        guard summary.hduShapes.first?.isEmpty ?? true, summary.hduCount > 1 else { return header }
        if let streamed = summary.imageExtensionHeader {
            // A .gz file: its extension header came from the checking stream; opening it with
            // cfitsio would decompress all of it into memory.
            for card in streamed.cards where header[card.key] == nil { header.cards.append(card) }
            return header
        }
        let file = try FITSFile.open(path)
        defer { try? file.close() }
        let hdu = try file.firstImageHDU()
        try file.moveTo(hdu: hdu)
        for card in try file.readHeader().cards where header[card.key] == nil {
            header.cards.append(card)
        }
        return header
    }

    static func mtime(_ st: stat) -> Double {
        Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    static func describe(_ error: FITSError) -> String {
        switch error.kind {
        case .notFITS: "not a FITS file: \(error.detail)"
        case .truncated: "truncated: \(error.detail)"
        case .damaged: "damaged: \(error.detail)"
        case .tooLarge: "too large: \(error.detail)"
        case .unsupported where !error.detail.isEmpty: "unsupported: \(error.detail)"
        default: "unreadable FITS: \(error.detail.isEmpty ? error.statusText : error.detail)"
        }
    }
}
