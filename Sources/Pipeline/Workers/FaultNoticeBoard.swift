import Foundation

/// Remembers which environmental faults have been logged, so that a full disk
/// that lasts an hour is logged once with its path and remedy, not once per
/// job per retry. A fault is forgotten once a job has run to its end again,
/// so a second episode is logged anew.
public final class FaultNoticeBoard: @unchecked Sendable {
    private let lock = NSLock()
    private var seen: Set<String> = []

    public init() {}

    /// True the first time `fault` (its kind and path) is seen since the last `clear()`.
    public func isNew(_ fault: EnvironmentalFault) -> Bool {
        isNew(key: "\(fault.kind.rawValue) \(fault.path)")
    }

    /// True the first time the fault with this key ("kind path", as a recipe process reports it) is seen.
    public func isNew(key: String) -> Bool {
        lock.withLock { seen.insert(key).inserted }
    }

    /// Whether any fault is outstanding (logged and not yet cleared).
    public var hasOutstanding: Bool { lock.withLock { !seen.isEmpty } }

    public func clear() { lock.withLock { seen.removeAll() } }
}
