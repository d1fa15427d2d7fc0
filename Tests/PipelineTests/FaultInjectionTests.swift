import CalibDB
import Foundation
import Glibc
import Testing

/// True when this process may mount a tmpfs (root on a machine that allows it).
let canMountTmpfs: Bool = {
    guard getuid() == 0 else { return false }
    let probe = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-mount-probe-\(getpid())").path
    try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: probe) }
    guard (try? runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe]))?.status == 0 else { return false }
    _ = try? runCommand("/bin/umount", [probe])
    return true
}()

@Suite("Fault injection", .serialized)
struct FaultInjectionTests {
    @Test("Disk full while writing a product: the job fails with the reason, nothing half-written stays, and it succeeds once space returns",
          .enabled(if: canMountTmpfs, "needs root to mount a small tmpfs"))
    func diskFull() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let products = ws.workspace + "/products"
        try FileManager.default.createDirectory(atPath: products, withIntermediateDirectories: true)
        #expect(try runCommand("/bin/mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", products]).status == 0)
        defer { _ = try? runCommand("/bin/umount", ["-l", products]) }
        // Leave 64 KiB: less than one product.
        let filler = products + "/filler"
        try Data(count: 8 * 1024 * 1024 - 64 * 1024).write(to: URL(fileURLWithPath: filler))
        try ws.simulate(size: 256)
        let daemon = try DaemonProcess(config: ws.config)
        let database = try CalibrationDatabase(path: ws.database)
        let failedOnce = try eventually(within: 60) {
            try database.jobs().contains { $0.recipe == "mbias" && ($0.reason ?? "").contains("no space left") }
        }
        let states = try database.jobs().map { "\($0.recipe) \($0.state) \($0.reason ?? "")" }
        #expect(failedOnce, "the full disk was not reported: \(states)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: products + "/2026-11-21").filter { $0.hasPrefix(".calibd-tmp-") }
        #expect(leftovers.isEmpty, "temporary files left: \(leftovers)")
        try FileManager.default.removeItem(atPath: filler)
        let recovered = try eventually(within: 60) { try database.products(type: .masterBias).count == 1 }
        #expect(recovered)
        let history = try database.events(ofJob: try #require(try database.jobs().first { $0.recipe == "mbias" }).id!).map(\.state)
        #expect(history.contains(.queued) && history.last == .succeeded)
        #expect(daemon.isRunning)
        #expect(daemon.stop())
        #expect(try database.integrityCheck() == "ok")
    }

    @Test("The database locked by another process for longer than the busy timeout: nothing is lost, readers keep answering")
    func databaseLocked() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let daemon = try DaemonProcess(config: ws.config)
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: ws.database) })
        usleep(500_000)
        // Another process holds the write lock for 13 s (the busy timeout is 10 s).
        let locker = Process()
        locker.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        locker.arguments = ["python3", "-c", """
            import sqlite3, time
            c = sqlite3.connect('\(ws.database)', isolation_level=None, timeout=30)
            c.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); time.sleep(13); c.execute('COMMIT')
            """]
        let out = Pipe()
        locker.standardOutput = out
        try locker.run()
        _ = out.fileHandleForReading.availableData  // waits for "locked"
        try ws.simulate(size: 256)
        // Readers are not blocked by a writer in WAL mode.
        let read = try ws.calibctl(["frames", "--json"])
        #expect(read.status == 0, "\(read.stderr)")
        locker.waitUntilExit()
        let database = try CalibrationDatabase(path: ws.database)
        let caughtUp = try eventually(within: 60) { try database.frameCount() == 18 && !database.products(type: .masterBias).isEmpty }
        let frames = try database.frameCount()
        #expect(caughtUp, "frames \(frames)")
        #expect(daemon.isRunning)
        #expect(daemon.stop())
        #expect(try database.integrityCheck() == "ok")
    }

    @Test("The workspace removed under a running daemon: it stops with the reason, and a restart rebuilds everything from the raw files")
    func workspaceRemoved() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256)
        let daemon = try DaemonProcess(config: ws.config)
        let database = try CalibrationDatabase(path: ws.database)
        #expect(try eventually(within: 60) { !(try database.products(type: .masterBias)).isEmpty })
        try FileManager.default.removeItem(atPath: ws.workspace)
        let stopped = eventually(within: 10) { !daemon.isRunning }
        #expect(stopped, "calibd kept running without its database")
        if stopped { #expect(daemon.process.terminationStatus != 0) }
        let again = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(again.batchRanToEnd, "\(again.stderr)")
        let rebuilt = try CalibrationDatabase(path: ws.database)
        #expect(try rebuilt.frameCount() == 18)
        #expect(try rebuilt.products(type: .masterBias).count == 1)
    }

    @Test("Clock jumps: files stamped hours in the future or past are taken after the stability time, not after the jump")
    func clockJumps() throws {
        let ws = try TestWorkspace(stableSeconds: 0.5, reconcileSeconds: 600)
        defer { ws.remove() }
        try ws.simulate(size: 256)
        let night = ws.raw + "/2026-11-21"
        for (i, name) in try FileManager.default.contentsOfDirectory(atPath: night).enumerated() {
            // As if the clock had jumped back (files from the "future") or forward.
            let offset: Double = i % 2 == 0 ? 7200 : -7200
            let when = Date().timeIntervalSince1970 + offset
            var times = [timespec(tv_sec: Int(when), tv_nsec: 0), timespec(tv_sec: Int(when), tv_nsec: 0)]
            #expect(utimensat(AT_FDCWD, night + "/" + name, &times, 0) == 0)
        }
        // Found by the start-up scan (no kernel event): stability is judged on the monotonic clock.
        let daemon = try DaemonProcess(config: ws.config)
        let database = try CalibrationDatabase(path: ws.database)
        #expect(try eventually(within: 15) { try database.frameCount() == 18 })
        #expect(daemon.stop())
    }
}
