import Dispatch
import Synchronization

/// How many threads one recipe may keep busy (`recipeThreads:` in `calibd.yaml`, #16).
///
/// Every parallel loop of the recipes goes through `concurrentPerform` here instead of
/// `DispatchQueue.concurrentPerform`, which always fans out to every core. With a limit
/// of 1 a loop runs on the calling thread; with a limit L below the core count it runs on
/// L lanes, lane k taking iterations k, k + L, k + 2L, … (interleaved, so lanes stay
/// balanced when the cost varies smoothly with the index, as it does across orders and
/// strips). Each iteration still runs exactly once, so results do not depend on the limit.
///
/// Why a cap in the shared helper rather than CPU affinity (`sched_setaffinity`) of the
/// recipe process: affinity names *which* cores, so N drain workers on one host would
/// have to agree on a partition of the cores (and two workers pinned to core 0 would
/// share it while core 1 idles); a cap says *how many* and leaves the placement to the
/// kernel's scheduler. It also covers the thread pool of OpenBLAS, which the recipe
/// process caps through `openblas_set_num_threads` (see `RecipeProcess`).
public enum RecipeParallelism {
    private static let storage = Atomic<Int>(0)

    /// The process-wide limit; nil (the default) means one lane per core.
    public static var limit: Int? {
        let value = storage.load(ordering: .relaxed)
        return value > 0 ? value : nil
    }

    /// Sets the process-wide limit (nil: no limit). A recipe process sets it once, before it runs a recipe.
    public static func setLimit(_ limit: Int?) {
        storage.store(max(0, limit ?? 0), ordering: .relaxed)
    }

    /// Runs `body(i)` once for every i in 0..<iterations, on at most `limit` threads at a
    /// time (the process-wide limit unless one is given), and returns when all have run.
    public static func concurrentPerform(iterations: Int, limit: Int? = RecipeParallelism.limit,
                                         execute body: @Sendable (Int) -> Void) {
        guard iterations > 0 else { return }
        guard let limit, limit < iterations else {
            DispatchQueue.concurrentPerform(iterations: iterations, execute: body)
            return
        }
        if limit <= 1 {
            for index in 0..<iterations { body(index) }
            return
        }
        DispatchQueue.concurrentPerform(iterations: limit) { lane in
            var index = lane
            while index < iterations {
                body(index)
                index += limit
            }
        }
    }
}
