import Foundation
import Glibc

/// Keeps a worker process from outliving the daemon that started it. An
/// orphaned recipe process would go on writing a product the next daemon is
/// re-making under the same name; an orphaned reader would wait for ever.
/// PR_SET_PDEATHSIG is tied to the thread that started the child (a pool
/// thread that may exit; and `prctl` is variadic, so not callable from Swift),
/// so the parent is watched instead: within 50 ms of it being gone
/// (re-parented), the worker exits.
///
/// Also ignores SIGTERM and SIGINT: systemd signals the whole control group
/// and a terminal the whole process group, but a graceful stop means the
/// daemon stops taking work and lets running recipes finish — the worker's
/// end is the daemon's to decide (it closes a reader's input; a recipe
/// finishes).
enum WorkerProcessGuard {
    static func start() {
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let parent = getppid()
        let thread = Thread {
            while true {
                if getppid() != parent { _exit(70) }
                usleep(50_000)
            }
        }
        thread.start()
    }
}
