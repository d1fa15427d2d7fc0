import Glibc

/// How a worker process ended, in words an operator can act on.
public enum ChildExit: Sendable, Equatable, CustomStringConvertible {
    case exited(Int32)
    case signalled(Int32)

    /// Exit status of a recipe process that could not record its outcome
    /// because of its surroundings (BSD's EX_TEMPFAIL): retry later, not a crash.
    public static let temporaryFailure: Int32 = 75

    public var isSuccess: Bool { self == .exited(0) }

    /// "signal 4 (SIGILL, a Swift runtime trap)", "exit status 3".
    public var description: String {
        switch self {
        case .exited(let code): "exit status \(code)"
        case .signalled(let signal): "signal \(signal) (\(Self.explain(signal)))"
        }
    }

    static func explain(_ signal: Int32) -> String {
        switch signal {
        case SIGILL: "SIGILL, a Swift runtime trap"
        case SIGTRAP: "SIGTRAP, a Swift runtime trap"
        case SIGSEGV: "SIGSEGV, an invalid memory access"
        case SIGBUS: "SIGBUS, a bad memory access (a file truncated while mapped?)"
        case SIGABRT: "SIGABRT, aborted"
        case SIGFPE: "SIGFPE, an arithmetic fault"
        case SIGKILL: "SIGKILL, killed (the kernel's out-of-memory killer, or an operator)"
        case SIGTERM: "SIGTERM, terminated"
        default: String(cString: strsignal(signal))
        }
    }
}
