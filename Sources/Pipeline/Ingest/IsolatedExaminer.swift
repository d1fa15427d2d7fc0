import CalibCore
import CalibDB
import Foundation
import Glibc
import Logging

/// Examines files in a separate, long-lived process (`calibd worker
/// examine`), so that a file whose header traps the Swift runtime, or crashes
/// cfitsio, ends that process and not the daemon.
///
/// Requests for a whole batch are written while replies are read (one JSON
/// line each, in order), so a batch costs no more than in-process examination
/// plus the encoding; the process is kept for the next batch. When it dies,
/// the replies received say which files were done: the file it was on is
/// recorded as a problem naming the crash, and the rest of the batch goes to a
/// new process. A file that takes longer than `fileTimeout` is treated the same
/// way (the process is killed), so a hang cannot stop ingest either.
public final class IsolatedExaminer: @unchecked Sendable {
    let launcher: WorkerLauncher
    let logger: Logger
    /// Seconds one file may take before its reader is killed.
    public var fileTimeout: TimeInterval = 120
    private let lock = NSLock()
    private var child: ChildProcess?
    /// Requests sent ahead of the replies (each well under 1 KiB each way).
    static let window = 16

    public init(launcher: WorkerLauncher, logger: Logger) {
        self.launcher = launcher; self.logger = logger
    }

    deinit { child?.closeInput() }

    /// Examines `paths` in order; one examination per path.
    func examine(_ paths: [String], known: [String: KnownPath], now: Date, final: Bool) throws -> [FrameIngester.Examination] {
        try lock.withLock {
            var results: [FrameIngester.Examination] = []
            results.reserveCapacity(paths.count)
            while results.count < paths.count {
                let remaining = Array(paths[results.count...])
                let (done, failure) = try examineInChild(remaining, known: known, now: now, final: final)
                results += done
                if let failure {
                    // The reader died on (or hung on) the next file: record it, go on with a new reader.
                    let path = remaining[done.count]
                    logger.error("reading a file crashed the reader process; recorded as a problem", metadata: [
                        "frame.path": "\(path)", "reason": "\(failure)",
                    ])
                    results.append(Self.crashRecord(path: path, failure: failure, now: now))
                }
            }
            return results
        }
    }

    /// Sends `paths` to the reader (starting one if needed) and collects its
    /// replies; when it dies before the end, returns the replies so far and why.
    private func examineInChild(_ paths: [String], known: [String: KnownPath], now: Date,
                                final: Bool) throws -> ([FrameIngester.Examination], String?) {
        let process = try readyChild()
        let encoder = ExaminationMessage.makeEncoder()
        func request(_ index: Int) -> Data {
            let path = paths[index], k = known[path]
            let message = ExaminationMessage.Request(path: path, knownFrameId: k?.frameId, knownSize: k?.sizeBytes, knownMtime: k?.mtime,
                                                     final: final, now: now.timeIntervalSince1970)
            return ((try? encoder.encode(message)) ?? Data()) + Data([0x0A])
        }
        // A window of requests ahead of the replies keeps the reader busy without a
        // writer thread, and stays far below the pipes' 64 KiB: neither side can block
        // on a full pipe while the other waits for it.
        var sent = 0
        func sendAhead(upTo count: Int) {
            while sent < min(count, paths.count) {
                guard process.send(request(sent)) else { sent = paths.count; return }
                sent += 1
            }
        }
        sendAhead(upTo: Self.window)
        let decoder = ExaminationMessage.makeDecoder()
        var done: [FrameIngester.Examination] = []
        while done.count < paths.count {
            switch process.lines.next(timeout: fileTimeout) {
            case .line(let line):
                guard let reply = try? decoder.decode(ExaminationMessage.Reply.self, from: line),
                      let examination = reply.examination else {
                    return (done, abandon(process, why: "the reader sent an unreadable reply"))
                }
                done.append(examination)
                sendAhead(upTo: done.count + Self.window)
            case .endOfFile:
                child = nil
                process.closeInput()
                return (done, "reading this file crashed the reader: \(process.wait())")
            case .timedOut:
                return (done, abandon(process, why: "reading this file took longer than \(Int(fileTimeout)) s; the reader was stopped"))
            }
        }
        return (done, nil)
    }

    private func abandon(_ process: ChildProcess, why: String) -> String {
        child = nil
        kill(process.pid, SIGKILL)
        process.closeInput()
        _ = process.wait()
        return why
    }

    /// The running reader, or a new one that has said it is ready. A reader
    /// that dies before that (a bad configuration, a missing binary) is an
    /// error of the daemon's, not of any file.
    private func readyChild() throws -> ChildProcess {
        if let child { return child }
        let process = try launcher.start(["examine"])
        switch process.lines.next(timeout: 60) {
        case .line(let line) where (try? ExaminationMessage.makeDecoder().decode(ExaminationMessage.Reply.self, from: line))?.kind == .ready:
            child = process
            return process
        default:
            kill(process.pid, SIGKILL)
            process.closeInput()
            throw PipelineError.configuration("the file-reading worker process (\(launcher.executable) worker examine) did not start: "
                                              + "\(process.wait()); see its messages above")
        }
    }

    /// The problem record of a file its reader died on. Identified by its
    /// bytes when they can be read, so a copy elsewhere is known to be the same.
    static func crashRecord(path: String, failure: String, now: Date) -> FrameIngester.Examination {
        var info = stat()
        let exists = stat(path, &info) == 0
        let size = exists ? Int64(info.st_size) : 0
        let mtime = exists ? FrameIngester.mtime(info) : 0
        let identity = (try? ContentChecksum.sha256(ofFile: path)) ?? "crashed:\(path):\(size):\(mtime)"
        return .record(FrameRecord(checksum: identity, path: path, sizeBytes: size, status: .problem, problem: failure,
                                   instrument: nil, frameType: .unknown, recordedAt: now), mtime: mtime)
    }

    /// Ends the reader (at shutdown): it exits when its input closes.
    public func stop() {
        lock.withLock {
            child?.closeInput()
            if let child { _ = child.wait() }
            child = nil
        }
    }
}
