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
    public let database: CalibrationDatabase
    public let logger: Logger

    public init(configuration: CalibdConfiguration, database: CalibrationDatabase, logger: Logger) {
        self.configuration = configuration; self.database = database; self.logger = logger
    }

    /// - Parameter assumeComplete: true in batch runs (`--once`, `calibctl
    ///   ingest`), where every file present is taken as finished.
    public func ingest(path: String, now: Date = Date(), assumeComplete: Bool = false) throws -> IngestOutcome {
        let settings = configuration.ingest
        let name = (path as NSString).lastPathComponent
        guard settings.accepts(fileName: name) else { return .ignored("name \(name) is ignored or not a FITS name") }

        var linkInfo = stat()
        guard lstat(path, &linkInfo) == 0 else { return .ignored("vanished before it could be read") }
        let isLink = (linkInfo.st_mode & S_IFMT) == S_IFLNK
        var info = stat()
        if stat(path, &info) != 0 {
            let why = errno == ELOOP ? "symbolic link loop" : isLink ? "dangling symbolic link" : String(cString: strerror(errno))
            return try recordProblem(path: path, size: 0, mtime: Self.mtime(linkInfo), reason: why, identity: "unreadable:\(path):\(why)", now: now)
        }
        switch info.st_mode & S_IFMT {
        case S_IFREG: break
        case S_IFDIR: return .ignored("directory")
        default: return .ignored("not a regular file")
        }
        let size = Int64(info.st_size)
        let mtime = Self.mtime(info)
        if let known = try database.knownPath(path), known.sizeBytes == size, known.mtime == mtime {
            return .unchanged
        }
        let age = now.timeIntervalSince1970 - mtime
        if !assumeComplete && age < settings.stableSeconds {
            return .deferred(reason: "modified \(String(format: "%.2f", age)) s ago", retryAt: Date(timeIntervalSince1970: mtime + settings.stableSeconds))
        }
        guard access(path, R_OK) == 0 else {
            return try recordProblem(path: path, size: size, mtime: mtime, reason: "permission denied: the daemon cannot read this file",
                                     identity: "unreadable:\(path):\(size):\(mtime)", now: now)
        }
        let checksum: String
        do { checksum = try ContentChecksum.sha256(ofFile: path) } catch {
            return try recordProblem(path: path, size: size, mtime: mtime, reason: "cannot read: \(error.localizedDescription)",
                                     identity: "unreadable:\(path):\(size):\(mtime)", now: now)
        }
        // The file may have grown while we read it; take it next time.
        var after = stat()
        if stat(path, &after) != 0 || Int64(after.st_size) != size || Self.mtime(after) != mtime {
            return .deferred(reason: "changed while being read", retryAt: now.addingTimeInterval(max(settings.stableSeconds, 0.2)))
        }
        if let existing = try database.frame(checksum: checksum) {
            var alias = existing
            alias.recordedAt = now
            try database.record(frame: alias, seenAt: path, mtime: mtime)
            logger.info("same bytes as an already recorded frame", metadata: ["frame.path": "\(path)", "frame.id": "\(existing.id!)"])
            return .alias(frameId: existing.id!)
        }

        let header: FITSHeader
        switch FITSIntegrity.check(path: path) {
        case .failure(let error):
            if error.kind == .truncated && !assumeComplete && age < settings.giveUpSeconds {
                return .deferred(reason: "incomplete FITS file (\(error.detail)); may still be written",
                                 retryAt: Date(timeIntervalSince1970: mtime + settings.giveUpSeconds))
            }
            return try recordProblem(path: path, size: size, mtime: mtime, reason: Self.describe(error), identity: checksum, now: now)
        case .success(let summary):
            do { header = try Self.classificationHeader(path: path, summary: summary) } catch {
                return try recordProblem(path: path, size: size, mtime: mtime, reason: Self.describe(error), identity: checksum, now: now)
            }
        }

        guard let profile = configuration.profile(for: header) else {
            let instrument = header.string("INSTRUME").map { "INSTRUME = '\($0)'" } ?? "no INSTRUME keyword"
            return try recordProblem(path: path, size: size, mtime: mtime,
                                     reason: "no instrument profile claims this file (\(instrument))", identity: checksum, now: now)
        }
        let classification = profile.classify(header)
        guard let mjd = header.double(profile.timeKey) ?? Self.mjd(fromISO: header.string("DATE-OBS")) else {
            return try recordProblem(path: path, size: size, mtime: mtime,
                                     reason: "missing keyword \(profile.timeKey) (and no usable DATE-OBS): the observing night cannot be derived",
                                     identity: checksum, now: now, instrument: profile.name, type: classification.type)
        }
        let exposureTime = header.double(profile.exposureTimeKey)
        if exposureTime == nil && classification.type != .unknown {
            return try recordProblem(path: path, size: size, mtime: mtime,
                                     reason: "missing keyword \(profile.exposureTimeKey) (exposure time)",
                                     identity: checksum, now: now, instrument: profile.name, type: classification.type)
        }
        let record = FrameRecord(
            checksum: checksum, path: path, sizeBytes: size,
            status: classification.problem == nil ? .ok : .problem, problem: classification.problem,
            instrument: profile.name, frameType: classification.type, lamp: classification.lamp,
            night: profile.night.night(forMJD: mjd).description, setup: profile.setup(of: header).canonical,
            mjdObs: mjd, exptime: exposureTime,
            tplStart: profile.template.flatMap { header.string($0.start) },
            tplNexp: profile.template.flatMap { header.int($0.count) }.map(Int.init),
            recordedAt: now)
        let (stored, isNew) = try database.record(frame: record, seenAt: path, mtime: mtime)
        guard isNew else { return .alias(frameId: stored.id!) }
        logger.info("frame recorded", metadata: [
            "frame.path": "\(path)", "frame.id": "\(stored.id!)", "frame.type": "\(stored.frameType.rawValue)",
            "night": "\(stored.night ?? "-")", "setup": "\(stored.setup ?? "")",
        ])
        return .recorded(stored)
    }

    private func recordProblem(path: String, size: Int64, mtime: Double, reason: String, identity: String, now: Date,
                               instrument: String? = nil, type: FrameType = .unknown) throws -> IngestOutcome {
        let record = FrameRecord(checksum: identity, path: path, sizeBytes: size, status: .problem, problem: reason,
                                 instrument: instrument, frameType: type, recordedAt: now)
        let (stored, isNew) = try database.record(frame: record, seenAt: path, mtime: mtime)
        logger.warning("frame not usable", metadata: ["frame.path": "\(path)", "reason": "\(reason)"])
        return isNew ? .recorded(stored) : .alias(frameId: stored.id!)
    }

    /// The primary header, followed by the first image extension's cards when
    /// the primary holds no data (tile-compressed `.fz` files and
    /// multi-extension raw files keep exposure keywords there).
    static func classificationHeader(path: String, summary: FITSSummary) throws(FITSError) -> FITSHeader {
        var header = summary.primaryHeader
        guard summary.hduShapes.first?.isEmpty ?? true, summary.hduCount > 1 else { return header }
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
        default: "unreadable FITS: \(error.detail.isEmpty ? error.statusText : error.detail)"
        }
    }

    /// MJD from an ISO-8601 `DATE-OBS` (`2026-11-21T23:59:59.123`).
    static func mjd(fromISO text: String?) -> Double? {
        guard let text else { return nil }
        let parts = text.split(separator: "T")
        guard let date = parts.first.flatMap({ ObservingNight(String($0)) }) else { return nil }
        var fraction = 0.0
        if parts.count > 1 {
            let hms = parts[1].split(separator: ":").compactMap { Double($0) }
            guard hms.count == 3 else { return nil }
            fraction = (hms[0] * 3600 + hms[1] * 60 + hms[2]) / 86400
        }
        return date.startDateMJD + fraction
    }
}
