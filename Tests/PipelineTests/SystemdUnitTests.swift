import Foundation
import Glibc
import Testing

/// Issue #15 part 5: the unit does what its comments say — the daemon speaks
/// sd_notify, reloads on SIGHUP, and systemd accepts the unit file.
@Suite("systemd integration", .serialized)
struct SystemdUnitTests {
    static let unitFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("config/calibd.service").path

    @Test("systemd-analyze verify finds nothing to say about the unit")
    func unitVerifies() throws {
        let verify = "/usr/bin/systemd-analyze"
        try #require(FileManager.default.isExecutableFile(atPath: verify), "systemd-analyze is needed for this test")
        // Given the shipped unit with ExecStart pointed at the built binary (install.sh puts it in $PREFIX/bin)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-unit-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let unit = try String(contentsOfFile: Self.unitFile, encoding: .utf8)
            .replacingOccurrences(of: "/usr/local/bin/calibd", with: Binaries.calibd)
        #expect(unit.contains("Type=notify") && unit.contains("WatchdogSec=") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID"))
        try unit.write(toFile: directory + "/calibd.service", atomically: true, encoding: .utf8)
        // When systemd checks it (man pages exist only once install.sh has run: not checked here)
        let result = try runCommand(verify, ["verify", "--man=no", directory + "/calibd.service"])
        // Then it has nothing to say
        #expect(result.status == 0)
        #expect(result.stdout.isEmpty && result.stderr.isEmpty, "\(result.stdout)\(result.stderr)")
    }

    /// A Unix datagram socket standing in for systemd's notification socket.
    final class NotifySocket: @unchecked Sendable {
        let path: String
        let fd: Int32
        private let lock = NSLock()
        private var received: [String] = []
        private var thread: Thread?

        init(directory: String) throws {
            path = directory + "/notify.sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { bytes in
                for (i, byte) in path.utf8.enumerated() { bytes[i] = byte }
            }
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            try #require(bound == 0, "cannot bind \(path): errno \(errno)")
            var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let thread = Thread { [self] in
                var buffer = [UInt8](repeating: 0, count: 4096)
                while !Thread.current.isCancelled {
                    let n = recv(fd, &buffer, buffer.count, 0)
                    if n > 0 { lock.withLock { received.append(String(decoding: buffer[..<n], as: UTF8.self)) } }
                }
            }
            self.thread = thread
            thread.start()
        }

        var messages: [String] { lock.withLock { received } }
        func count(_ line: String) -> Int { messages.filter { $0.split(separator: "\n").contains { $0.hasPrefix(line) } }.count }

        func close() {
            thread?.cancel()
            usleep(300_000)
            Glibc.close(fd)
        }
    }

    @Test("with NOTIFY_SOCKET the daemon sends READY=1, STATUS=, WATCHDOG=1, answers a calibctl request at once and sends STOPPING=1")
    func notifies() throws {
        // Given a notification socket and a watchdog of 2 s
        let ws = try TestWorkspace(reconcileSeconds: 600)
        defer { ws.remove() }
        let socket = try NotifySocket(directory: ws.root)
        defer { socket.close() }
        let daemon = try DaemonProcess(config: ws.config, environment: ["NOTIFY_SOCKET": socket.path, "WATCHDOG_USEC": "2000000"])
        defer { daemon.stop() }

        // When it starts, then idles
        #expect(eventually(within: 30) { socket.count("READY=1") == 1 }, "\(socket.messages)")
        #expect(socket.messages.contains { $0.contains("STATUS=idle") }, "\(socket.messages)")
        // Then the watchdog is pinged at half the interval: 5 pings due in 5 s, at least 4 even on a loaded machine
        // (systemd would kill the daemon only after a whole interval, 2 s, without one)
        let pings = socket.count("WATCHDOG=1")
        sleep(5)
        #expect(socket.count("WATCHDOG=1") - pings >= 4, "\(socket.messages)")

        // When calibctl makes a request, the daemon plans at once (a new STATUS= line) without polling
        let statuses = socket.count("STATUS=idle; ")
        let requested = Date()
        #expect(try ws.calibctl(["pause"]).status == 0)
        #expect(eventually(within: 1) { socket.count("STATUS=idle; ") > statuses }, "\(socket.messages)")
        print("calibctl pause answered in \(String(format: "%.3f", Date().timeIntervalSince(requested))) s (calibctl's own run included)")

        // When it is stopped, it says so before it exits
        #expect(daemon.stop())
        #expect(daemon.process.terminationStatus == 0)
        #expect(socket.count("STOPPING=1") == 1, "\(socket.messages)")
    }

    @Test("SIGHUP reloads a changed valid configuration, logs what changed, and refuses a broken one while running on")
    func reloadsOnHangup() throws {
        // Given a running daemon
        let ws = try TestWorkspace(reconcileSeconds: 600)
        defer { ws.remove() }
        let log = ws.root + "/calibd.log"
        let daemon = try DaemonProcess(config: ws.config, logLevel: "info", log: log)
        defer { daemon.stop() }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(eventually(within: 30) { logText().contains("calibd running") })
        #expect(logText().contains("calibd starting") && logText().contains("version=") && logText().contains("profiles="))

        // When the bias QC range changes and the daemon gets SIGHUP
        let profile = ws.root + "/config/instruments/simech.yaml"
        let original = try String(contentsOfFile: profile, encoding: .utf8)
        try original.replacingOccurrences(of: "readNoiseADU: {min: 0.5, max: 8.0}", with: "readNoiseADU: {min: 0.5, max: 9.0}")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        // Then it logs at notice what changed, and runs on
        #expect(eventually(within: 30) { logText().contains("configuration reloaded") }, "\(logText())")
        #expect(logText().contains("notice") && logText().contains("recipe mbias: QC ranges"), "\(logText())")
        #expect(daemon.isRunning)

        // When the profile is broken (a QC range for a metric the recipe does not emit) and it gets SIGHUP
        try original.replacingOccurrences(of: "readNoiseADU: {min: 0.5, max: 8.0}", with: "readNoiseADUX: {min: 0.5, max: 8.0}")
            .write(toFile: profile, atomically: true, encoding: .utf8)
        kill(daemon.process.processIdentifier, SIGHUP)
        // Then it logs the finding at error, keeps the old configuration and runs on
        #expect(eventually(within: 30) { logText().contains("configuration not reloaded") }, "\(logText())")
        #expect(logText().contains("readNoiseADUX"), "\(logText())")
        sleep(1)
        #expect(daemon.isRunning)
        // (calibctl reads the same broken profile and would refuse it: the person fixes the file first)
        try original.write(toFile: profile, atomically: true, encoding: .utf8)
        #expect(try ws.calibctl(["status"]).stdout.contains("calibd running"))
        #expect(daemon.stop())
        #expect(daemon.process.terminationStatus == 0)
        #expect(logText().contains("calibd stopped"), "\(logText())")
    }
}
