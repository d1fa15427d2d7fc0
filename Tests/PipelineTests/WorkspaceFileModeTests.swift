import Foundation
import Glibc
import Pipeline
import Testing

/// Product, plot and log files get the workspace's mode whatever umask calibd runs under, and
/// log lines cannot be forged by a file name.
@Suite("Workspace files keep their mode; logs stay one line per event", .serialized)
struct WorkspaceFileModeTests {
    @Test("Under umask 000 and 077, products, plots and job logs are 0640", arguments: ["000", "077"])
    func modes(umask: String) throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256, arms: "RED")
        let result = try runCommand("/bin/sh", ["-c", "umask \(umask) && exec \"$0\" \"$@\"", Binaries.calibd,
                                                "--config", ws.config, "--once", "--log-level", "error"])
        #expect(result.batchRanToEnd, "\(result.stderr)")
        var checked = 0
        let walker = try #require(FileManager.default.enumerator(atPath: ws.workspace))
        for case let relative as String in walker {
            let name = (relative as NSString).lastPathComponent
            guard name.hasSuffix(".fits") || name.hasSuffix(".svg") || name.hasSuffix(".log") else { continue }
            var info = stat()
            #expect(stat(ws.workspace + "/" + relative, &info) == 0)
            #expect(info.st_mode & 0o777 == 0o640, "\(relative) has mode \(String(info.st_mode & 0o777, radix: 8)) under umask \(umask)")
            checked += 1
        }
        #expect(checked >= 3, "only \(checked) product/log files found")
    }

    @Test("Control characters in logged text are escaped, other text kept")
    func logText() {
        #expect(LogText.escaped("raw/new\nline.fits") == "raw/new\\nline.fits")
        #expect(LogText.escaped("a\u{1B}[31mred\r") == "a\\u{1B}[31mred\\r")
        #expect(LogText.escaped("Café ★ [1].fits") == "Café ★ [1].fits")
    }
}
