import Glibc

/// Structural checks that catch half-written, damaged or foreign files before any pixels are
/// used, with memory bounded whatever the file claims.
public enum FITSIntegrity {
    private static let blockSize: Int64 = 2880

    /// Checks a file's whole structure.
    ///
    /// - Plain FITS: every HDU's header is read and its structural keywords validated
    ///   (`FITSStructureScanner`: BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT, overflow-checked sizes)
    ///   by seeking from header to header, before cfitsio sees the file; then cfitsio walks it
    ///   too, and every tile-compressed image (`.fz`) has all its tiles decompressed.
    /// - gzip (`.gz`): streamed through zlib to the last byte (`CompressedFileCheck`), never
    ///   given to cfitsio, which would decompress it wholly into memory; the headers come from
    ///   the stream.
    /// - Unix compress and bzip2: refused (cfitsio would decompress them into memory unbounded).
    ///
    /// Leading bytes are checked first, so non-FITS input gives a clean `.notFITS` instead of
    /// cfitsio echoing binary garbage.
    public static func check(path: String, maxDecompressedBytes: Int64 = CompressedFileCheck.defaultMaxDecompressedBytes)
        -> Result<FITSSummary, FITSError> {
        Result { () throws(FITSError) in try summarize(path, maxDecompressedBytes: maxDecompressedBytes) }
    }

    private static func summarize(_ path: String, maxDecompressedBytes: Int64) throws(FITSError) -> FITSSummary {
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            throw FITSError(kind: .cfitsio, path: path, operation: "opening file", detail: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw FITSError(kind: .unsupported, path: path, operation: "opening file", detail: "not a regular file")
        }
        let size = Int64(info.st_size)
        if size == 0 {
            throw truncated(path, "file is empty (0 bytes); a FITS file holds at least one \(blockSize.grouped)-byte header block")
        }
        // One read serves the magic-number check and the structure scan of a header-only file.
        let firstBlock = bytes(fd, at: 0, count: Int(min(blockSize, size)))
        let lead = Array(firstBlock.prefix(80))
        if lead.starts(with: CompressedFileCheck.gzipMagic) {
            let layout = try CompressedFileCheck.checkGzip(path: path, maxDecompressedBytes: maxDecompressedBytes)
            return FITSSummary(hduCount: layout.shapes.count, primaryHeader: FITSHeader(cardImages: layout.primaryCards),
                               hduShapes: layout.shapes,
                               imageExtensionHeader: layout.imageExtensionCards.map { FITSHeader(cardImages: $0) })
        }
        if lead.starts(with: [0x1F, 0x9D]) || lead.starts(with: Array("BZh".utf8)) {
            let what = lead.starts(with: [0x1F, 0x9D]) ? "Unix compress (.Z)" : "bzip2"
            throw FITSError(kind: .unsupported, path: path, operation: "checking structure",
                            detail: "compressed with \(what): only gzip (.gz) and tile-compressed (.fz) files are accepted; recompress it with gzip or fpack")
        }
        guard lead.starts(with: Array("SIMPLE  =".utf8)) else {
            throw FITSError(kind: .notFITS, path: path, operation: "checking structure",
                            detail: "file starts with \"\(FITSStructureScanner.shown(lead.prefix(9)))\", not \"SIMPLE  =\"")
        }
        let layout = try scanPlain(fd, size: size, path: path, firstBlock: firstBlock)

        let file = try FITSFile.open(path)
        let count = try file.hduCount()
        var shapes: [[Int]] = []
        for hdu in stride(from: 1, through: count, by: 1) {
            try file.moveTo(hdu: hdu)
            let span = try file.span()
            if span.dataEnd > size {
                throw truncated(path, "data unit of HDU \(hdu) needs \(span.dataEnd.grouped) bytes, file ends after \(size.grouped)")
            }
            // Only where the scan saw ZIMAGE: asking cfitsio of every HDU costs a locked call per HDU at ingest.
            if layout.compressedImageHDUs.contains(hdu), try file.isCompressedImage() {
                try file.verifyCompressedTiles()
            }
            shapes.append(try file.imageShape())
        }
        try file.moveTo(hdu: 1)
        let summary = FITSSummary(hduCount: count, primaryHeader: try file.readHeader(), hduShapes: shapes)
        try file.close()
        return summary
    }

    /// Walks a plain file's HDUs header by header, seeking over data units, so that a file of
    /// any size costs a few block reads.
    private static func scanPlain(_ fd: Int32, size: Int64, path: String, firstBlock: [UInt8]) throws(FITSError) -> FITSStructureScanner.Layout {
        var scanner = FITSStructureScanner(path: path)
        var offset: Int64 = 0
        var firstUnread: [UInt8]? = firstBlock.isEmpty ? nil : firstBlock
        while offset < size {
            let pending = scanner.pendingDataBytes
            if pending > 0 {
                guard size - offset >= pending else {
                    throw truncated(path, "data unit of HDU \(scanner.layout.shapes.count) needs \((offset + pending).grouped) bytes, file ends after \(size.grouped)")
                }
                scanner.skipData(pending)
                offset += pending
                continue
            }
            if scanner.reachedTrailing { break }
            let chunk: [UInt8]
            if let first = firstUnread { chunk = first; firstUnread = nil } else { chunk = bytes(fd, at: offset, count: Int(min(blockSize, size - offset))) }
            guard !chunk.isEmpty else {
                throw FITSError(kind: .cfitsio, path: path, operation: "checking structure",
                                detail: "cannot read at byte \(offset.grouped): \(String(cString: strerror(errno)))")
            }
            var failure: FITSError?
            chunk.withUnsafeBytes { raw in
                do throws(FITSError) { try scanner.consume(raw) } catch { failure = error }
            }
            if let failure { throw failure }
            offset += Int64(chunk.count)
        }
        return try scanner.finish()
    }

    private static func bytes(_ fd: Int32, at offset: Int64, count: Int) -> [UInt8] {
        guard offset >= 0, count > 0 else { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        var filled = 0
        while filled < count {
            let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + filled, count - filled, off_t(offset) + off_t(filled)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            filled += n
        }
        return Array(buffer.prefix(filled))
    }

    private static func truncated(_ path: String, _ detail: String) -> FITSError {
        FITSError(kind: .truncated, path: path, operation: "checking structure", detail: detail)
    }
}
