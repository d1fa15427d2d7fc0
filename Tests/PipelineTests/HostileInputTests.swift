import CalibDB
import FITS
import Foundation
import Glibc
import Testing

/// A FITS file written byte by byte: 80-character cards padded to 2880-byte
/// blocks, then `dataBytes` of data (not padded) — for headers cfitsio would
/// refuse to write.
func rawFITS(_ cards: [String], dataBytes: Int = 0, fill: UInt8 = 0) -> Data {
    // Padded in bytes, not characters: a non-ASCII value must not shift the cards.
    var data = Data()
    for card in cards + ["END"] {
        var bytes = Array(card.utf8.prefix(80))
        bytes += [UInt8](repeating: 0x20, count: 80 - bytes.count)
        data.append(contentsOf: bytes)
    }
    data.append(Data(repeating: 0x20, count: (2880 - data.count % 2880) % 2880))
    data.append(Data(repeating: fill, count: dataBytes))
    return data
}

func card(_ key: String, _ value: String) -> String {
    key.count > 8 ? key + " = " + value : key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + value
}

/// Every kind of bad input the tests make, with what the record must say.
struct HostileFile {
    var name: String
    /// A phrase the recorded reason must contain; nil when the file is valid enough to be recorded as usable;
    /// "*" when either verdict is acceptable as long as the file is recorded.
    var reason: String?
}

@Suite("Hostile inputs never stop the daemon and are recorded with their reasons", .serialized)
struct HostileInputTests {
    @Test("A corpus of broken, odd and malicious files beside a good night")
    func corpus() throws {
        let ws = try TestWorkspace(stableSeconds: 0.2, reconcileSeconds: 2, giveUpSeconds: 2)
        defer { ws.remove() }
        let daemon = try DaemonProcess(config: ws.config)
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: ws.database) })
        try ws.simulate(size: 256, arms: "RED")
        let goodNight = ws.raw + "/2026-11-21"
        let goodFiles = try FileManager.default.contentsOfDirectory(atPath: goodNight).sorted()
        let sample = try Data(contentsOf: URL(fileURLWithPath: goodNight + "/" + goodFiles[0]))

        let bad = ws.raw + "/hostile"
        let outside = ws.root + "/outside"
        try FileManager.default.createDirectory(atPath: bad, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        var corpus: [HostileFile] = []
        func put(_ name: String, _ data: Data, reason: String?) throws {
            try data.write(to: URL(fileURLWithPath: bad + "/" + name))
            corpus.append(HostileFile(name: name, reason: reason))
        }
        let simple = [card("SIMPLE", "T"), card("BITPIX", "16")]
        let claims = [card("INSTRUME", "'SIMECH'"), card("HIERARCH ESO DPR CATG", "'CALIB'"), card("HIERARCH ESO DPR TECH", "'IMAGE'")]

        try put("empty.fits", Data(), reason: "truncated")
        try put("header-cut.fits", sample.prefix(1000), reason: "truncated")
        try put("data-cut.fits", sample.prefix(sample.count / 2), reason: "truncated")
        var generator = SystemRandomNumberGenerator()
        try put("garbage.fits", Data((0..<10_000).map { _ in UInt8.random(in: 0...255, using: &generator) }), reason: "not a FITS file")
        try put("no-dpr.fits", rawFITS(simple + [card("NAXIS", "0"), card("INSTRUME", "'SIMECH'"), card("MJD-OBS", "61365.9")]),
                reason: "missing keyword")
        try put("no-time.fits", rawFITS(simple + [card("NAXIS", "0")] + claims + [card("HIERARCH ESO DPR TYPE", "'BIAS'"),
                                                                             card("EXPTIME", "0.0")]), reason: "MJD-OBS")
        try put("bad-exptime.fits", rawFITS(simple + [card("NAXIS", "0")] + claims + [
            card("HIERARCH ESO DPR TYPE", "'BIAS'"), card("MJD-OBS", "61365.9"), card("EXPTIME", "'a while'")]), reason: "EXPTIME")
        try put("bitpix-17.fits", rawFITS([card("SIMPLE", "T"), card("BITPIX", "17"), card("NAXIS", "2"), card("NAXIS1", "10"),
                                           card("NAXIS2", "10")], dataBytes: 2880), reason: "BITPIX")
        try put("naxis-lies.fits", rawFITS(simple + [card("NAXIS", "2"), card("NAXIS1", "4096"), card("NAXIS2", "4096")] + claims,
                                           dataBytes: 2880), reason: "truncated")
        try put("unknown-instrument.fits", rawFITS(simple + [card("NAXIS", "0"), card("INSTRUME", "'HARPS'")]),
                reason: "no instrument profile")
        try put("non-ascii.fits", rawFITS(simple + [card("NAXIS", "0"), card("INSTRUME", "'SIMECH'"), card("OBJECT", "'Caf\u{e9} \u{2605}'")]),
                reason: "*")
        try put("corrupt.fits.gz", Data([0x1f, 0x8b, 0x08, 0x00] + (0..<4000).map { _ in UInt8.random(in: 0...255, using: &generator) }),
                reason: "uncompress")
        try put("corrupt.fits.fz", rawFITS(simple + [card("NAXIS", "0"), card("EXTEND", "T")]) + rawFITS([
            card("XTENSION", "'BINTABLE'"), card("BITPIX", "8"), card("NAXIS", "2"), card("NAXIS1", "8"), card("NAXIS2", "4"),
            card("PCOUNT", "100"), card("GCOUNT", "1"), card("TFIELDS", "1"), card("TFORM1", "'1PB(50)'"),
            card("TTYPE1", "'COMPRESSED_DATA'"), card("ZIMAGE", "T"), card("ZBITPIX", "16"), card("ZNAXIS", "2"),
            card("ZNAXIS1", "10"), card("ZNAXIS2", "4"), card("ZCMPTYPE", "'RICE_1'")], dataBytes: 132, fill: 0xAB), reason: "truncated")

        // Valid FITS with odd content, on another night so that no good input set changes:
        // NaN/Inf pixels, a saturated set of biases, a very long header string.
        let oddNight = "61369.9"  // 2026-11-25
        func floatFrame(_ name: String, pixels: [Float], type: String, extra: [(String, HeaderValue)] = []) throws {
            var header = FITSHeader()
            header.set("INSTRUME", .string("SIMECH"))
            header.set("ESO DPR CATG", .string(type == "OBJECT" ? "SCIENCE" : "CALIB"))
            header.set("ESO DPR TYPE", .string(type))
            header.set("ESO DPR TECH", .string("IMAGE"))
            header.set("ESO SEQ ARM", .string("RED"))
            // Every setup keyword of the profile: a frame lacking one is a problem (see InputValidationTests).
            header.set("ESO DET BINX", .integer(1))
            header.set("ESO DET BINY", .integer(1))
            header.set("ESO DET READ SPEED", .string("100k/1pt/hg"))
            header.set("MJD-OBS", .real(Double(oddNight)! + Double(corpus.count) * 1e-3))
            header.set("EXPTIME", .real(0))
            for (k, v) in extra { header.set(k, v) }
            let file = try FITSFile.create(bad + "/" + name)
            try file.writeImage(pixels, width: 64, height: 64, header: header)
            try file.close()
            corpus.append(HostileFile(name: name, reason: nil))
        }
        var nanPixels = [Float](repeating: 1000, count: 64 * 64)
        for i in stride(from: 0, to: nanPixels.count, by: 7) { nanPixels[i] = .nan }
        for i in stride(from: 3, to: nanPixels.count, by: 11) { nanPixels[i] = .infinity }
        try floatFrame("nan-inf.fits", pixels: nanPixels, type: "OBJECT")
        for i in 0..<3 { try floatFrame("saturated-bias-\(i).fits", pixels: [Float](repeating: 65535, count: 64 * 64), type: "BIAS") }
        try floatFrame("long-string.fits", pixels: [Float](repeating: 1, count: 64 * 64), type: "OBJECT",
                       extra: [("HISTORY-LIKE", .string(String(repeating: "a very long header value ", count: 400)))])

        // Duplicates and links.
        try sample.write(to: URL(fileURLWithPath: bad + "/renamed-copy.fits"))
        corpus.append(HostileFile(name: "renamed-copy.fits", reason: nil))
        try FileManager.default.createSymbolicLink(atPath: bad + "/link-to-good.fits", withDestinationPath: goodNight + "/" + goodFiles[1])
        corpus.append(HostileFile(name: "link-to-good.fits", reason: nil))
        try FileManager.default.createSymbolicLink(atPath: bad + "/dangling.fits", withDestinationPath: bad + "/nowhere.fits")
        corpus.append(HostileFile(name: "dangling.fits", reason: "dangling"))
        try FileManager.default.createSymbolicLink(atPath: bad + "/loop-a.fits", withDestinationPath: bad + "/loop-b.fits")
        try FileManager.default.createSymbolicLink(atPath: bad + "/loop-b.fits", withDestinationPath: bad + "/loop-a.fits")
        corpus.append(HostileFile(name: "loop-a.fits", reason: "loop"))
        corpus.append(HostileFile(name: "loop-b.fits", reason: "loop"))
        try sample.write(to: URL(fileURLWithPath: outside + "/secret.fits"))
        try FileManager.default.createSymbolicLink(atPath: bad + "/escape.fits", withDestinationPath: outside + "/secret.fits")
        corpus.append(HostileFile(name: "escape.fits", reason: "outside the watched roots"))
        try FileManager.default.createSymbolicLink(atPath: bad + "/dir-link", withDestinationPath: outside)  // never followed

        // The daemon takes the good night and records every hostile file.
        let database = try CalibrationDatabase(path: ws.database)
        let done = try eventually(within: 60) {
            let known = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM frame_path WHERE path LIKE '%/hostile/%'") ?? 0 }
            return known >= corpus.count
        }
        #expect(done, "not every hostile file was recorded")
        #expect(daemon.isRunning)
        let listings = try database.frames()
        for file in corpus {
            let path = bad + "/" + file.name
            let listing = listings.first { $0.paths.contains(path) }
            guard let listing else { Issue.record("\(file.name) was not recorded"); continue }
            if file.reason == "*" { continue }
            if let reason = file.reason {
                #expect(listing.frame.status == .problem, "\(file.name) should be a problem")
                #expect((listing.frame.problem ?? "").localizedCaseInsensitiveContains(reason), "\(file.name): \(listing.frame.problem ?? "")")
            } else {
                #expect(listing.frame.status == .ok, "\(file.name): \(listing.frame.problem ?? "")")
            }
        }
        #expect(!listings.contains { $0.paths.contains { $0.hasPrefix(ws.raw + "/hostile/dir-link/") } }, "a link to a directory was followed")

        // The good night was processed as if the hostile files were not there.
        #expect(try eventually(within: 60) { try database.products(type: .masterBias).contains { $0.night == "2026-11-21" } })
        #expect(daemon.stop())
        let clean = try TestWorkspace()
        defer { clean.remove() }
        try FileManager.default.createDirectory(atPath: clean.raw, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: goodNight, toPath: clean.raw + "/2026-11-21")
        #expect(try runCommand(Binaries.calibd, ["--config", clean.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let reference = try CalibrationDatabase(path: clean.database)
        func biasMetrics(_ db: CalibrationDatabase) throws -> [String: Double?] {
            let product = try #require(try db.products(type: .masterBias).first { $0.night == "2026-11-21" && $0.supersededBy == nil })
            return Dictionary(uniqueKeysWithValues: try db.metrics(ofProduct: product.id!).map { ($0.name, $0.value) })
        }
        #expect(try biasMetrics(database) == biasMetrics(reference))
    }

    @Test("A file name with a newline and an escape sequence cannot forge or repaint a line of the daemon's log")
    func logInjection() throws {
        // Given a running daemon logging at info to its standard error
        let ws = try TestWorkspace(stableSeconds: 0.2, reconcileSeconds: 2, giveUpSeconds: 2)
        defer { ws.remove() }
        let log = ws.root + "/calibd.log"
        let daemon = try DaemonProcess(config: ws.config, logLevel: "info", log: log)
        defer { daemon.stop() }
        func logText() -> String { (try? String(contentsOfFile: log, encoding: .utf8)) ?? "" }
        #expect(eventually(within: 30) { logText().contains("calibd running") })

        // When a file arrives whose name carries a forged log line and a terminal escape
        let night = ws.raw + "/2026-11-21"
        try FileManager.default.createDirectory(atPath: night, withIntermediateDirectories: true)
        let name = "x\n2026-01-01T00:00:00+0000 critical calibd: [Daemon] FORGED\u{1B}[2J.fits"
        try Data("not FITS at all".utf8).write(to: URL(fileURLWithPath: night + "/" + name))

        // Then its problem is logged with the name escaped, on one line, and no line starts with the forgery
        #expect(eventually(within: 30) { logText().contains("FORGED") }, "\(logText())")
        let lines = logText().split(separator: "\n")
        #expect(!lines.contains { $0.hasPrefix("2026-01-01T00:00:00+0000 critical") }, "\(logText())")
        #expect(!logText().contains("\u{1B}"))
        #expect(lines.contains { $0.contains("x\\n2026-01-01") && $0.contains("\\u{1B}[2J") }, "\(logText())")
    }

    @Test("Unreadable files are recorded as such", .enabled(if: getuid() != 0, "root reads every file; run the suite unprivileged to check this"))
    func unreadable() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let path = ws.raw + "/locked.fits"
        try writeSmallFrame(path, sequence: 1)
        chmod(path, 0)
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let frames = try CalibrationDatabase(path: ws.database).frames(problemsOnly: true)
        #expect(frames.first?.frame.problem?.contains("permission denied") == true)
    }
}
