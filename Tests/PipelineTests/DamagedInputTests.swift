import CalibDB
import FITS
import Foundation
import Glibc
import Testing

/// Issue #18: damaged compressed files, header values that trapped the runtime, odd names and
/// non-regular files, each recorded by a running daemon with its reason — with memory bounded.
@Suite("Damaged files, header traps, odd names and file kinds are caught at ingest", .serialized)
struct DamagedInputTests {
    /// A SIMECH bias header (64 × 64, 16-bit) as cards, `changes` replacing or adding cards by key.
    static func biasCards(mjd: Double, _ changes: [String: String] = [:]) -> [String] {
        var values: [(String, String)] = [
            ("SIMPLE", "T"), ("BITPIX", "16"), ("NAXIS", "2"), ("NAXIS1", "64"), ("NAXIS2", "64"),
            ("INSTRUME", "'SIMECH'"), ("HIERARCH ESO DPR CATG", "'CALIB'"), ("HIERARCH ESO DPR TYPE", "'BIAS'"),
            ("HIERARCH ESO DPR TECH", "'IMAGE'"), ("HIERARCH ESO SEQ ARM", "'RED'"), ("HIERARCH ESO DET OUT1 OVSCX", "4"),
            ("MJD-OBS", String(mjd)), ("EXPTIME", "0.0"),
            // Every SIMECH setup keyword: a frame without them is a problem of its own.
            ("HIERARCH ESO DET BINX", "1"), ("HIERARCH ESO DET BINY", "1"), ("HIERARCH ESO DET READ SPEED", "'100k/1pt/hg'"),
        ]
        for (key, value) in changes {
            if let i = values.firstIndex(where: { $0.0 == key }) { values[i].1 = value } else { values.append((key, value)) }
        }
        return values.map { card($0.0, $0.1) }
    }

    /// The bias as file bytes, the data padded to whole blocks.
    static func biasFile(mjd: Double, _ changes: [String: String] = [:], dataBytes: Int = 64 * 64 * 2) -> Data {
        rawFITS(biasCards(mjd: mjd, changes), dataBytes: (dataBytes + 2879) / 2880 * 2880, fill: 0x04)
    }

    static func run(_ tool: String, _ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try? process.run()
        process.waitUntilExit()
    }

    /// Peak resident set of a process, KiB (VmHWM), from /proc.
    static func peakRSSKiB(_ pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
        return line.flatMap { Int($0.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") }
    }

    @Test("A running daemon records every damaged, trapping, oddly named or non-regular file with its reason, with bounded memory")
    func damagedAndHostile() throws {
        let ws = try TestWorkspace(stableSeconds: 0.2, reconcileSeconds: 1, giveUpSeconds: 1)
        defer { ws.remove() }
        // A low bound, so that the bomb is refused after 16 MiB of a 256 MiB stream.
        try (String(contentsOfFile: ws.config, encoding: .utf8) + "\n  maxDecompressedBytes: 16777216\n")
            .write(toFile: ws.config, atomically: true, encoding: .utf8)
        let dir = ws.raw + "/2026-11-21"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var expected: [(name: String, reason: String?)] = []
        var mjd = 61365.90
        func put(_ name: String, _ data: Data, reason: String?) throws {
            try data.write(to: URL(fileURLWithPath: dir + "/" + name))
            expected.append((name, reason))
        }
        func nextMJD() -> Double { mjd += 0.001; return mjd }

        // Damaged compressed files.
        let plain = ws.root + "/plain.fits"
        try Self.biasFile(mjd: nextMJD(), dataBytes: 64 * 64 * 2).write(to: URL(fileURLWithPath: plain))
        Self.run("/usr/bin/gzip", ["-k", "-f", plain])
        let gz = try Data(contentsOf: URL(fileURLWithPath: plain + ".gz"))
        try put("good.fits.gz", gz, reason: nil)
        try put("truncated.fits.gz", gz.prefix(gz.count / 2), reason: "truncated: the gzip stream ends")
        try put("two-members.fits.gz", gz + gz, reason: "second gzip member")
        let bomb = ws.root + "/bomb.fits"
        try rawFITS(Self.biasCards(mjd: nextMJD(), ["BITPIX": "32", "NAXIS1": "8192", "NAXIS2": "8192"])).write(to: URL(fileURLWithPath: bomb))
        let bombData: Int = 8192 * 8192 * 4
        let bombSize: Int = 2880 + (bombData + 2879) / 2880 * 2880
        let extended = Glibc.truncate(bomb, off_t(bombSize))
        #expect(extended == 0)
        Self.run("/usr/bin/gzip", ["-f", bomb])
        try put("bomb.fits.gz", try Data(contentsOf: URL(fileURLWithPath: bomb + ".gz")), reason: "more than 16,777,216 bytes (ingest.maxDecompressedBytes)")
        let fz = ws.root + "/frame.fits.fz"
        var header = FITSHeader()
        for (key, value) in [("INSTRUME", "SIMECH"), ("ESO DPR CATG", "CALIB"), ("ESO DPR TYPE", "BIAS"), ("ESO DPR TECH", "IMAGE"), ("ESO SEQ ARM", "RED")] {
            header.set(key, .string(value))
        }
        header.set("MJD-OBS", .real(nextMJD()))
        header.set("EXPTIME", .real(0))
        var state: UInt32 = 3
        let file = try FITSFile.create(fz)
        try file.writeImage((0..<256 * 256).map { _ -> UInt16 in state = state &* 1_664_525 &+ 1_013_904_223; return UInt16(1000 + (state >> 22)) },
                            width: 256, height: 256, header: header)
        try file.writeChecksums()
        try file.close()
        var fzBytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: fz)))
        for i in (fzBytes.count - 40_000)..<(fzBytes.count - 36_000) { fzBytes[i] = UInt8(truncatingIfNeeded: i &* 131) }
        try put("corrupt-tile.fits.fz", Data(fzBytes), reason: "DATASUM")

        // Header values that trapped the runtime.
        try put("mjd.fits", Self.biasFile(mjd: 0, ["MJD-OBS": "1E300"]), reason: "MJD-OBS = 1e+300 is not a date between 1950 and 2100")
        try put("naxis.fits", Self.biasFile(mjd: nextMJD(), ["BITPIX": "-64", "NAXIS": "3", "NAXIS1": "4294967296", "NAXIS2": "4294967296",
                                                             "NAXIS3": "4294967296"]), reason: "overflows a 64-bit byte count")
        try put("overscan.fits", Self.biasFile(mjd: nextMJD(), ["HIERARCH ESO DET OUT1 OVSCX": "-16"]), reason: "ESO DET OUT1 OVSCX = -16")
        try put("exptime.fits", Self.biasFile(mjd: nextMJD(), ["EXPTIME": "1E999"]), reason: "EXPTIME = ")
        try put("binning.fits", Self.biasFile(mjd: nextMJD(), ["HIERARCH ESO DET BINX": "0"]), reason: "ESO DET BINX = 0")
        try put("template.fits", Self.biasFile(mjd: nextMJD(), ["HIERARCH ESO TPL NEXP": "-3"]), reason: "ESO TPL NEXP = -3")

        // Names cfitsio would read as extended syntax, and a newline: recorded as the files they are.
        for name in ["a[1].fits", "+b.fits", "!c.fits", "d[compress].fits", "new\nline.fits"] {
            try put(name, Self.biasFile(mjd: nextMJD()), reason: nil)
        }
        // A name that is not UTF-8.
        let badName = Array("\(dir)/bad-".utf8) + [0xFF, 0xFE] + Array(".fits".utf8)
        let fd = (badName + [0]).withUnsafeBufferPointer { $0.withMemoryRebound(to: CChar.self) { open($0.baseAddress!, O_CREAT | O_WRONLY, 0o644) } }
        #expect(fd >= 0)
        let badBytes = Self.biasFile(mjd: nextMJD())
        _ = badBytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        expected.append(("bad-\\xFF\\xFE.fits", "not valid UTF-8"))

        let daemon = try DaemonProcess(config: ws.config)
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: ws.database) })
        // Non-regular files appear while the daemon runs: neither may block or feed it.
        #expect(mkfifo(dir + "/pipe.fits", 0o644) == 0)
        expected.append(("pipe.fits", "not a regular file: a FIFO"))
        try FileManager.default.createSymbolicLink(atPath: dir + "/zero.fits", withDestinationPath: "/dev/zero")
        expected.append(("zero.fits", "not a regular file: a character device (a symbolic link to /dev/zero)"))

        let database = try CalibrationDatabase(path: ws.database)
        let done = try eventually(within: 60) {
            try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM frame_path WHERE path LIKE ?", arguments: [dir + "/%"]) ?? 0 }
                >= expected.count
        }
        #expect(done, "not every file was recorded")
        #expect(daemon.isRunning, "the daemon died")
        let peak = Self.peakRSSKiB(daemon.process.processIdentifier)
        let listings = try database.frames()
        for file in expected {
            let path = dir + "/" + file.name
            guard let listing = listings.first(where: { $0.paths.contains(path) }) else { Issue.record("\(file.name) was not recorded"); continue }
            if let reason = file.reason {
                #expect(listing.frame.status == .problem, "\(file.name) should be a problem")
                #expect((listing.frame.problem ?? "").contains(reason), "\(file.name): \(listing.frame.problem ?? "usable")")
            } else {
                #expect(listing.frame.status == .ok, "\(file.name): \(listing.frame.problem ?? "")")
            }
        }
        // The bomb decompresses to 256 MiB; cfitsio's open would have held all of it. Tolerance:
        // the daemon's whole peak stays under 200 MiB.
        let peakKiB = try #require(peak)
        print("calibd peak RSS while refusing the 256 MiB bomb: \(peakKiB / 1024) MiB (limit 200 MiB)")
        #expect(peakKiB < 200 * 1024, "calibd peak RSS \(peakKiB) KiB")
        #expect(daemon.stop())
    }

    @Test("A deleted and a replaced input frame are noticed: the frames are marked and their set re-planned without them")
    func goneFrames() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256, arms: "RED")
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let database = try CalibrationDatabase(path: ws.database)
        let job = try #require(try database.jobs().first { $0.productType == .masterBias && $0.state == .succeeded })
        let inputs = try database.inputs(ofJob: job.id!)
        #expect(inputs.count >= 3)
        let deleted = inputs[0].frame, replaced = inputs[1].frame
        try FileManager.default.removeItem(atPath: deleted.path)
        // Replaced in place by other bytes of the same size: a pixel changed.
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: replaced.path)))
        bytes[bytes.count - 3000] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: replaced.path))

        // The old job is re-run by hand before the daemon has looked again.
        let rerunRequest = try ws.calibctl(["rerun", "\(job.id!)"])
        #expect(rerunRequest.status == 0, "\(rerunRequest.stderr)")

        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let after = try database.frames()
        let deletedNow = try #require(after.first { $0.frame.id == deleted.id })
        #expect(deletedNow.frame.status == .problem)
        #expect(deletedNow.frame.problem?.contains("deleted: \(deleted.path)") == true, "\(deletedNow.frame.problem ?? "usable")")
        let replacedNow = try #require(after.first { $0.frame.id == replaced.id })
        #expect(replacedNow.frame.status == .problem)
        #expect(replacedNow.frame.problem?.contains("replaced in place: \(replaced.path)") == true, "\(replacedNow.frame.problem ?? "usable")")
        let newBytes = try #require(after.first { $0.paths.contains(replaced.path) && $0.frame.id != replaced.id })
        #expect(newBytes.frame.status == .ok, "the new bytes at the replaced path are a new, usable frame")

        // The re-run job never runs on the vanished frames: its set changed, so it was superseded.
        let rerun = try #require(try database.job(id: job.id!))
        #expect(rerun.state == .superseded)
        // The set is re-planned without the deleted frame, with the new bytes, and succeeds.
        let replanned = try database.jobs().filter { $0.productType == .masterBias && $0.id != job.id && $0.state == .succeeded }
        let replannedInputs = try replanned.flatMap { try database.inputs(ofJob: $0.id!) }.map(\.frame.id)
        #expect(!replanned.isEmpty)
        #expect(!replannedInputs.contains(deleted.id) && !replannedInputs.contains(replaced.id) && replannedInputs.contains(newBytes.frame.id))
    }

    @Test("A job whose input frame vanished after planning fails once, saying which frame is gone")
    func jobOnVanishedFrame() throws {
        // Frames taken by `calibctl ingest` from an extra root: no scan watches them, so nothing
        // notices the deletion before the job runs.
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 256, arms: "RED")
        let extra = ws.root + "/extra"
        try FileManager.default.moveItem(atPath: ws.raw, toPath: extra)
        try FileManager.default.createDirectory(atPath: ws.raw, withIntermediateDirectories: true)
        try ("extraIngestRoots: [../extra]\n" + String(contentsOfFile: ws.config, encoding: .utf8)).write(toFile: ws.config, atomically: true, encoding: .utf8)
        let night = extra + "/2026-11-21"
        let files = try FileManager.default.contentsOfDirectory(atPath: night).sorted().map { night + "/" + $0 }
        let ingest = try ws.calibctl(["ingest"] + files)
        #expect(ingest.status == 0, "\(ingest.stderr)")
        let database = try CalibrationDatabase(path: ws.database)
        let gone = try #require(try database.frames().filter { $0.frame.frameType == .bias }.first)
        let path = try #require(gone.paths.first)
        try FileManager.default.removeItem(atPath: path)

        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let job = try #require(try database.jobs().first { $0.productType == .masterBias })
        #expect(job.state == .failed)
        #expect(job.attempts == 1, "retried \(job.attempts) times")
        #expect(job.reason?.contains("input frame \(gone.frame.id!) is gone: \(path)") == true, "\(job.reason ?? "")")
    }
}
