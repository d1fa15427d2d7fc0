import CalibDB
import Foundation
import Testing

@Suite("Concurrency", .serialized)
struct ConcurrencyTests {
    @Test("1,000 calibctl queries while the daemon ingests a night at full speed: no 'database is locked', snapshots only move forward")
    func queriesDuringIngest() throws {
        let ws = try TestWorkspace(stableSeconds: 0.1)
        defer { ws.remove() }
        let daemon = try DaemonProcess(config: ws.config)
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: ws.database) })

        // The load: a two-arm night plus 600 small files, written while the queries run.
        let writer = Thread {
            _ = try? ws.simulate(size: 256, arms: "BLUE,RED")
            try? FileManager.default.createDirectory(atPath: ws.raw + "/burst", withIntermediateDirectories: true)
            for i in 0..<600 { try? writeSmallFrame(ws.raw + "/burst/S\(i).fits", sequence: 10_000 + i) }
        }
        writer.start()

        let verbs: [[String]] = [["frames", "--json"], ["jobs", "--json"], ["status", "--json"], ["calibs", "--json"]]
        let failures = Locked<[String]>([])
        let group = DispatchGroup()
        for worker in 0..<4 {
            group.enter()
            DispatchQueue.global().async {
                defer { group.leave() }
                var lastFrames = -1
                for i in 0..<250 {
                    let verb = verbs[(worker + i) % verbs.count]
                    guard let result = try? ws.calibctl(verb) else { failures.mutate { $0.append("could not run \(verb)") }; continue }
                    if result.status != 0 || result.stderr.localizedCaseInsensitiveContains("locked") {
                        failures.mutate { $0.append("\(verb) → \(result.status): \(result.stderr.prefix(200))") }
                        continue
                    }
                    guard let json = try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) else {
                        failures.mutate { $0.append("\(verb): not JSON") }
                        continue
                    }
                    if verb[0] == "frames", let frames = json as? [[String: Any]] {
                        // Each query sees one committed state; a later one never sees fewer frames.
                        if frames.count < lastFrames { failures.mutate { $0.append("frames went back from \(lastFrames) to \(frames.count)") } }
                        lastFrames = frames.count
                    }
                }
            }
        }
        group.wait()
        #expect(failures.value.isEmpty, "\(failures.value.count) failures, e.g. \(failures.value.prefix(3))")
        let database = try CalibrationDatabase(path: ws.database)
        // 18 frames of RED, 23 of BLUE (its five D2 flats), 600 small files.
        #expect(try eventually(within: 60) { try database.frameCount() == 641 })
        #expect(daemon.isRunning)
        #expect(daemon.stop())
    }
}

/// A value shared between threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private var stored: Value
    private let lock = NSLock()
    init(_ value: Value) { stored = value }
    var value: Value { lock.withLock { stored } }
    func mutate(_ body: (inout Value) -> Void) { lock.withLock { body(&stored) } }
}
