import FITS

/// What the header rules say about one frame.
public struct Classification: Sendable, Equatable {
    public var type: FrameType
    public var lamp: String?
    /// Why the frame could not be classified, when it could not (else nil).
    public var problem: String?

    public init(type: FrameType, lamp: String? = nil, problem: String? = nil) {
        self.type = type; self.lamp = lamp; self.problem = problem
    }
}

extension InstrumentProfile {
    /// Applies the classification rules in order; the first match wins.
    ///
    /// When no rule matches and some rule could not be decided because the
    /// header lacks a keyword it reads, the frame is UNKNOWN with a problem
    /// naming those keywords: a person can then fix the header or the rule.
    public func classify(_ header: FITSHeader) -> Classification {
        var missing: Set<String> = []
        for rule in classification {
            switch rule.when.evaluate(header) {
            case .match:
                let lamp = rule.lamp ?? rule.lampKey.flatMap { header.string($0)?.trimmingCharacters(in: .whitespaces) }
                return Classification(type: rule.type, lamp: lamp, problem: nil)
            case .missing(let keys):
                missing.formUnion(keys)
            case .noMatch:
                break
            }
        }
        let problem = missing.isEmpty
            ? nil
            : "missing keyword\(missing.count == 1 ? "" : "s") \(missing.sorted().joined(separator: ", ")) needed by the \(name) classification rules"
        return Classification(type: .unknown, lamp: nil, problem: problem)
    }

    /// True when this profile claims the file.
    public func identifies(_ header: FITSHeader) -> Bool {
        identify.evaluate(header) == .match
    }
}
