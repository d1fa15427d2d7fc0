import CalibCore
import Foundation
import Glibc
import Synchronization
import Testing

/// `recipeThreads:` (#16): one recipe's parallel loops run on at most that many threads.
@Suite("Recipe parallelism limit")
struct RecipeParallelismTests {
    /// Runs `iterations` iterations of a loop whose body takes ~2 ms, and returns how often
    /// each index ran, the most iterations that were running at once, and how many threads ran them.
    static func probe(iterations: Int, limit: Int?) -> (counts: [Int], maxConcurrent: Int, threads: Int) {
        let running = Atomic<Int>(0), peak = Atomic<Int>(0)
        let counts = Mutex([Int](repeating: 0, count: iterations))
        let threads = Mutex(Set<UInt>())
        RecipeParallelism.concurrentPerform(iterations: iterations, limit: limit) { index in
            let now = running.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
            var seen = peak.load(ordering: .sequentiallyConsistent)
            while now > seen {
                let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .sequentiallyConsistent)
                if exchanged { break }
                seen = original
            }
            usleep(2_000)
            counts.withLock { $0[index] += 1 }
            threads.withLock { _ = $0.insert(UInt(pthread_self())) }
            running.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        }
        return (counts.withLock { $0 }, peak.load(ordering: .sequentiallyConsistent), threads.withLock { $0.count })
    }

    @Test("with a limit of 1, every iteration runs once, one at a time, on the calling thread")
    func oneThread() {
        // Given a limit of one thread per recipe
        // When a loop of 40 iterations runs
        let caller = UInt(pthread_self())
        let callerRan = Mutex(true)
        RecipeParallelism.concurrentPerform(iterations: 40, limit: 1) { _ in
            if UInt(pthread_self()) != caller { callerRan.withLock { $0 = false } }
        }
        let result = Self.probe(iterations: 40, limit: 1)
        // Then each index ran exactly once, never two at once, all on the caller's thread
        #expect(result.counts == [Int](repeating: 1, count: 40))
        #expect(result.maxConcurrent == 1)
        #expect(result.threads == 1)
        #expect(callerRan.withLock { $0 })
    }

    @Test("with a limit of 2, every iteration runs once and never more than two at once")
    func twoThreads() {
        // Given a limit of two and more iterations than that
        let result = Self.probe(iterations: 64, limit: 2)
        // Then each index ran exactly once, and at most two ran at a time, on at most two threads
        #expect(result.counts == [Int](repeating: 1, count: 64))
        #expect((1...2).contains(result.maxConcurrent), "\(result.maxConcurrent) iterations ran at once")
        #expect(result.threads <= 2)
    }

    @Test("a limit above the iteration count, or none, still runs each iteration once")
    func noEffectiveLimit() {
        for limit in [nil, 8, 1000] as [Int?] {
            let result = Self.probe(iterations: 5, limit: limit)
            #expect(result.counts == [Int](repeating: 1, count: 5), "limit \(String(describing: limit))")
            #expect(result.maxConcurrent <= 5)
        }
        // And no iterations run nothing
        RecipeParallelism.concurrentPerform(iterations: 0, limit: 1) { _ in Issue.record("ran an iteration of none") }
    }

    @Test("recipeThreads in calibd.yaml: read when given, absent means one per core, 0 is refused with the key")
    func configurationKey() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-threads-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: repositoryConfig + "/instruments", toPath: dir + "/instruments")
        func load(_ text: String) throws -> CalibdConfiguration {
            try text.write(toFile: dir + "/calibd.yaml", atomically: true, encoding: .utf8)
            return try ConfigurationLoader.load(path: dir + "/calibd.yaml")
        }
        #expect(try load("workers: 2\nrecipeThreads: 1\n").recipeThreads == 1)
        #expect(try load("workers: 2\n").recipeThreads == nil)
        do {
            _ = try load("recipeThreads: 0\n")
            Issue.record("recipeThreads: 0 was accepted")
        } catch let error as ConfigurationError {
            #expect(error.key == "recipeThreads")
            #expect(error.message.contains("between 1 and"))
        }
    }

    @Test("no recipe or executor fans out with DispatchQueue.concurrentPerform, which would ignore the limit")
    func everyParallelLoopHonoursTheLimit() throws {
        // Given the sources the recipe processes run
        let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Sources").path
        var offenders: [String] = []
        var scanned = 0
        for target in ["Recipes", "Pipeline"] {
            let enumerator = try #require(FileManager.default.enumerator(atPath: sources + "/" + target))
            while let name = enumerator.nextObject() as? String {
                guard name.hasSuffix(".swift") else { continue }
                let text = try String(contentsOfFile: sources + "/" + target + "/" + name, encoding: .utf8)
                scanned += 1
                for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                where line.contains("DispatchQueue.concurrentPerform") && !line.trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                    offenders.append("\(target)/\(name):\(number + 1)")
                }
            }
        }
        // Then every parallel loop goes through RecipeParallelism
        #expect(scanned > 50)
        #expect(offenders.isEmpty, "use RecipeParallelism.concurrentPerform: \(offenders)")
    }
}
