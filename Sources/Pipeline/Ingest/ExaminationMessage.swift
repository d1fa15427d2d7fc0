import CalibDB
import Foundation

/// The line-delimited JSON spoken between the daemon and its examining
/// process: one request per file, one reply per request, in order.
enum ExaminationMessage {
    /// Header values may be infinite or NaN (an `EXPTIME` of `inf`); JSON has no such numbers.
    static let nonConforming = (positiveInfinity: "+inf", negativeInfinity: "-inf", nan: "nan")

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: nonConforming.positiveInfinity, negativeInfinity: nonConforming.negativeInfinity, nan: nonConforming.nan)
        return encoder
    }

    static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.nonConformingFloatDecodingStrategy = .convertFromString(
            positiveInfinity: nonConforming.positiveInfinity, negativeInfinity: nonConforming.negativeInfinity, nan: nonConforming.nan)
        return decoder
    }

    /// One file to examine, with what the database knows of its path.
    struct Request: Codable, Sendable {
        var path: String
        var knownFrameId: Int64?
        var knownSize: Int64?
        var knownMtime: Double?
        var final: Bool
        /// Seconds since 1970: the batch's time, so records match an in-process run.
        var now: Double

        var known: KnownPath? {
            guard let knownFrameId, let knownSize, let knownMtime else { return nil }
            return KnownPath(frameId: knownFrameId, sizeBytes: knownSize, mtime: knownMtime)
        }
    }

    /// What the examination found, short of writing the database.
    struct Reply: Codable, Sendable {
        enum Kind: String, Codable { case ignored, unchanged, deferred, record, ready }
        var kind: Kind
        var reason: String?
        var retryAt: Double?
        var frame: FrameRecord?
        var mtime: Double?

        static let ready = Reply(kind: .ready)

        init(kind: Kind, reason: String? = nil, retryAt: Double? = nil, frame: FrameRecord? = nil, mtime: Double? = nil) {
            self.kind = kind; self.reason = reason; self.retryAt = retryAt; self.frame = frame; self.mtime = mtime
        }

        init(_ examination: FrameIngester.Examination) {
            switch examination {
            case .record(let frame, let mtime): self.init(kind: .record, frame: frame, mtime: mtime)
            case .done(.ignored(let why)): self.init(kind: .ignored, reason: why)
            case .done(.deferred(let why, let at)): self.init(kind: .deferred, reason: why, retryAt: at.timeIntervalSince1970)
            // examine() ends in these only; recorded/alias come from the database.
            case .done: self.init(kind: .unchanged)
            }
        }

        var examination: FrameIngester.Examination? {
            switch kind {
            case .record: frame.map { .record($0, mtime: mtime ?? 0) }
            case .ignored: .done(.ignored(reason ?? ""))
            case .unchanged: .done(.unchanged)
            case .deferred: .done(.deferred(reason: reason ?? "", retryAt: Date(timeIntervalSince1970: retryAt ?? 0)))
            case .ready: nil
            }
        }
    }
}
