import Foundation
import Glibc

/// A child process with pipes to its standard input and output (its standard
/// error is the parent's, so its log lines reach the journal), started with
/// `posix_spawn` and reaped with `waitpid`: nothing of Foundation's `Process`
/// (its run loop, its SIGCHLD handling) in a daemon that starts children for
/// every batch of files and every job.
final class ChildProcess: @unchecked Sendable {
    let pid: pid_t
    /// Write end of the child's standard input (-1 once closed).
    private(set) var input: Int32
    /// Read end of the child's standard output.
    let output: Int32
    /// Lines from the child's standard output.
    let lines: LineReader
    /// How it ended, once reaped; guarded by `reapLock` because a watchdog may signal it from another thread.
    private var reaped: ChildExit?
    private let reapLock = NSLock()
    private static let spawnLock = NSLock()

    /// Starts `executable` with `arguments` (argv[1…]) and the parent's environment plus `environment`.
    init(executable: String, arguments: [String], environment: [String: String] = [:]) throws {
        // A child that dies makes writes to its pipe fail with EPIPE; the default
        // action of SIGPIPE would kill the daemon instead.
        signal(SIGPIPE, SIG_IGN)
        // Pipes and spawn under one lock: pipe2(O_CLOEXEC) is not imported, and a child
        // started between pipe() and FD_CLOEXEC would inherit another child's pipe end
        // and hide that child's death (no end of file while it lives).
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        var toChild: [Int32] = [0, 0], fromChild: [Int32] = [0, 0]
        guard pipe(&toChild) == 0 else { throw Self.error("pipe") }
        guard pipe(&fromChild) == 0 else {
            close(toChild[0]); close(toChild[1])
            throw Self.error("pipe")
        }
        for fd in toChild + fromChild { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // dup2 clears close-on-exec on the new descriptor, so only these two reach the child.
        posix_spawn_file_actions_adddup2(&actions, toChild[0], STDIN_FILENO)
        posix_spawn_file_actions_adddup2(&actions, fromChild[1], STDOUT_FILENO)
        var env = ProcessInfo.processInfo.environment
        for (key, value) in environment { env[key] = value }
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for p in argv + envp { free(p) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, executable, &actions, nil, argv, envp)
        close(toChild[0]); close(fromChild[1])
        guard status == 0 else {
            close(toChild[1]); close(fromChild[0])
            throw PipelineError.configuration("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        pid = child
        input = toChild[1]
        output = fromChild[0]
        lines = LineReader(descriptor: fromChild[0])
    }

    deinit {
        if input >= 0 { close(input) }
        close(output)
        if reapLock.withLock({ reaped == nil }) { kill(pid, SIGKILL); _ = wait() }
    }

    /// Sends `signal` unless the child was already reaped (its pid may then
    /// belong to another process); true when it was sent. The lock orders it
    /// with `wait()`; what is left is the instant between the kernel reaping
    /// the child and `wait()` taking the lock, far shorter than it takes
    /// Linux to hand out the same pid again.
    @discardableResult
    func deliver(_ signal: Int32) -> Bool {
        reapLock.withLock { reaped == nil && kill(pid, signal) == 0 }
    }

    /// Writes all of `data` to the child's standard input; false if the child is gone.
    func send(_ data: Data) -> Bool {
        input >= 0 && LineReader.writeAll(data, to: input)
    }

    /// Closes the child's standard input: end of requests.
    func closeInput() {
        if input >= 0 { close(input); input = -1 }
    }

    /// Waits for the child to end and says how it ended.
    func wait() -> ChildExit {
        if let done = reapLock.withLock({ reaped }) { return done }
        var status: Int32 = 0
        var result: ChildExit?
        while waitpid(pid, &status, 0) < 0 {
            if errno != EINTR { result = .exited(-1); break }
        }
        // WIFEXITED / WTERMSIG by hand: the C macros are not imported.
        let signal = status & 0x7F
        let ended = result ?? (signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal))
        reapLock.withLock { reaped = ended }
        return ended
    }

    /// Runs `work` (which waits on a child for as long as a recipe runs) on a
    /// thread of its own: blocking one of the few threads of GCD's global pool
    /// for minutes would starve the work queued behind it.
    static func onOwnThread<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.name = "calibd child wait"
            thread.start()
        }
    }

    private static func error(_ call: String) -> PipelineError {
        .configuration("\(call) failed while starting a worker process: \(String(cString: strerror(errno)))")
    }
}
