import Foundation

/// Structural checks that catch half-written or foreign files before any pixels are read.
public enum FITSIntegrity {
    private static let blockSize: Int64 = 2880

    /// Compares, for every HDU, the byte span its header promises (ffghadll) with the file size.
    ///
    /// The leading bytes are checked here before cfitsio sees the file, so non-FITS input gives a
    /// clean `.notFITS` instead of cfitsio echoing binary garbage. gzip/bzip2/compress files are
    /// only checked by cfitsio's own decompression on open; tile-compressed ".fz" files are plain
    /// FITS on disk and get the full check.
    public static func check(path: String) -> Result<FITSSummary, FITSError> {
        Result { () throws(FITSError) in try summarize(path) }
    }

    private static func summarize(_ path: String) throws(FITSError) -> FITSSummary {
        let diskSize = try plainFITSSize(path)
        let file = try FITSFile.open(path)
        let count = try file.hduCount()
        var shapes: [[Int]] = []
        var end: Int64 = 0
        for hdu in stride(from: 1, through: count, by: 1) {
            try file.moveTo(hdu: hdu)
            let span = try file.span()
            if let diskSize, span.dataEnd > diskSize {
                throw truncated(path, "data unit of HDU \(hdu) needs \(span.dataEnd.grouped) bytes, file ends after \(diskSize.grouped)")
            }
            end = span.dataEnd
            shapes.append(try file.imageShape())
        }
        if let diskSize, diskSize > end, bytes(of: path, at: end, count: 9) == Array("XTENSION=".utf8) {
            throw truncated(path, "header of HDU \(count + 1) starts at byte \(end.grouped) but file ends after \(diskSize.grouped)")
        }
        try file.moveTo(hdu: 1)
        let summary = FITSSummary(hduCount: count, primaryHeader: try file.readHeader(), hduShapes: shapes)
        try file.close()
        return summary
    }

    /// Size of an uncompressed FITS file, nil for gzip/bzip2/compress streams (which cfitsio
    /// decompresses itself), or an error when the leading bytes cannot start a FITS file.
    /// A missing or unreadable file is left for cfitsio to report.
    private static func plainFITSSize(_ path: String) throws(FITSError) -> Int64? {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = (attributes[.size] as? NSNumber)?.int64Value else { return nil }
        if size == 0 {
            throw truncated(path, "file is empty (0 bytes); a FITS file holds at least one \(blockSize.grouped)-byte header block")
        }
        let lead = bytes(of: path, at: 0, count: 80)
        let compressedMagic: [[UInt8]] = [[0x1F, 0x8B], [0x1F, 0x9D], Array("BZh".utf8)]
        if compressedMagic.contains(where: { lead.starts(with: $0) }) { return nil }
        guard lead.starts(with: Array("SIMPLE  =".utf8)) else {
            let shown = String(decoding: lead.prefix(9).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
            throw FITSError(kind: .notFITS, path: path, operation: "checking structure",
                            detail: "file starts with \"\(shown)\", not \"SIMPLE  =\"")
        }
        if size < blockSize {
            throw truncated(path, "primary header needs at least \(blockSize.grouped) bytes, file ends after \(size.grouped)")
        }
        return size
    }

    private static func bytes(of path: String, at offset: Int64, count: Int) -> [UInt8] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        guard (try? handle.seek(toOffset: UInt64(offset))) != nil,
              let data = try? handle.read(upToCount: count) else { return [] }
        return Array(data)
    }

    private static func truncated(_ path: String, _ detail: String) -> FITSError {
        FITSError(kind: .truncated, path: path, operation: "checking structure", detail: detail)
    }
}
