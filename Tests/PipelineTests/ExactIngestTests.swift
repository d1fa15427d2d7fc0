import CalibDB
import FITS
import Foundation
import Glibc
import Testing

/// A header-only SIMECH file with a unique sequence number (so every file has its own checksum).
func writeSmallFrame(_ path: String, sequence: Int) throws {
    var header = FITSHeader()
    header.set("INSTRUME", .string("SIMECH"))
    header.set("ESO DPR CATG", .string("TEST"))
    header.set("ESO DPR TYPE", .string("INGEST"))
    header.set("ESO DPR TECH", .string("IMAGE"))
    header.set("MJD-OBS", .real(61365.9 + Double(sequence) * 1e-6))
    header.set("EXPTIME", .real(1))
    header.set("SEQUENCE", .integer(Int64(sequence)))
    let file = try FITSFile.create(path, overwrite: true)
    try file.writeEmptyPrimary(header: header)
    try file.close()
}

@Suite("Exact ingest with the real watcher", .serialized)
struct ExactIngestTests {
    @Test("2,000 files in bursts — into new subdirectories and directories moved in full — are each recorded exactly once")
    func twoThousandFiles() throws {
        let ws = try TestWorkspace(reconcileSeconds: 600)
        defer { ws.remove() }
        let fm = FileManager.default
        try fm.createDirectory(atPath: ws.raw + "/existing", withIntermediateDirectories: true)
        let daemon = try DaemonProcess(config: ws.config)
        #expect(try eventually(within: 10) { fm.fileExists(atPath: ws.database) })
        usleep(300_000)
        var sequence = 0
        func burst(into directory: String, count: Int, viaRename: Bool = false) throws {
            try fm.createDirectory(atPath: directory, withIntermediateDirectories: true)
            for _ in 0..<count {
                sequence += 1
                let name = String(format: "F%05d.fits", sequence)
                if viaRename {
                    // The way rsync and most transfer tools deliver: hidden temporary, then rename.
                    try writeSmallFrame(directory + "/." + name + ".tmp", sequence: sequence)
                    #expect(rename(directory + "/." + name + ".tmp", directory + "/" + name) == 0)
                } else {
                    try writeSmallFrame(directory + "/" + name, sequence: sequence)
                }
            }
        }
        // 1: into a directory that existed at start.
        try burst(into: ws.raw + "/existing", count: 500)
        // 2: into subdirectories created during the run (nested, created just before writing).
        for i in 0..<5 { try burst(into: ws.raw + "/new\(i)/deeper/still", count: 100, viaRename: i % 2 == 0) }
        // 3: whole trees prepared elsewhere and moved in with their files already inside.
        let outside = ws.root + "/staging"
        for i in 0..<5 { try burst(into: outside + "/tree\(i)/a/b", count: 100) }
        for i in 0..<5 { #expect(rename(outside + "/tree\(i)", ws.raw + "/moved\(i)") == 0) }
        // 4: a burst into the root itself.
        try burst(into: ws.raw, count: 500, viaRename: true)
        #expect(sequence == 2000)

        let database = try CalibrationDatabase(path: ws.database)
        let complete = try eventually(within: 120) { try database.frameCount() >= 2000 }
        let recorded = try database.frameCount()
        #expect(complete, "only \(recorded) of 2000 files recorded")
        usleep(1_000_000)  // nothing more may arrive
        #expect(try database.frameCount() == 2000)
        let paths = try database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM frame_path") ?? 0 }
        #expect(paths == 2000)
        let problems = try database.frames(problemsOnly: true)
        #expect(problems.isEmpty, "problems: \(problems.prefix(3).map { $0.frame.problem ?? "" })")
        let distinct = try database.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(DISTINCT path) FROM frame_path WHERE path NOT LIKE '%/.%'") ?? 0
        }
        #expect(distinct == 2000)
        #expect(daemon.stop())
    }

    @Test("A file written slowly over 3 s is taken only after its last byte")
    func slowWriter() throws {
        let ws = try TestWorkspace(stableSeconds: 0.5, reconcileSeconds: 1, giveUpSeconds: 30)
        defer { ws.remove() }
        let daemon = try DaemonProcess(config: ws.config)
        #expect(try eventually(within: 10) { FileManager.default.fileExists(atPath: ws.database) })
        // A complete FITS file's bytes, written 1/30 at a time every 100 ms through one open descriptor.
        let scratch = ws.root + "/complete.fits"
        try writeSmallFrame(scratch, sequence: 1)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: scratch))
        let target = ws.raw + "/slow.fits"
        let fd = open(target, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        #expect(fd >= 0)
        let database = try CalibrationDatabase(path: ws.database)
        let chunk = (bytes.count + 29) / 30
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + chunk, bytes.count)
            _ = bytes[offset..<end].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            offset = end
            usleep(100_000)
            // Not yet: neither as a frame nor as a problem (the reconciliation scan runs every second meanwhile).
            #expect(try database.knownPath(target) == nil, "taken after \(offset) of \(bytes.count) bytes")
        }
        close(fd)
        let taken = try eventually(within: 10) { try database.knownPath(target) != nil }
        #expect(taken)
        let frames = try database.frames()
        #expect(frames.count == 1)
        #expect(frames.first?.frame.status == .ok)
        #expect(frames.first?.frame.sizeBytes == Int64(bytes.count))
        #expect(daemon.stop())
    }
}
