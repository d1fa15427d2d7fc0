import CZlib
import Glibc

/// Checks a gzip-compressed FITS file (`.fits.gz`) for what it is, to its last byte, with bounded
/// memory: the gzip stream is inflated in 1 MiB pieces (zlib, which also verifies the stream's
/// CRC-32 and length), each piece goes through `FITSStructureScanner`, and nothing but the two
/// kept headers is held. cfitsio would instead decompress the whole file into memory to read one
/// header (a 1 MB bomb of zeros became 1.09 GB) and takes a truncated stream or a second
/// appended member without complaint.
///
/// Refused, each with its reason: a stream cut short (`.truncated`, so that a file still being
/// written is waited for), corrupt deflate data or a failed CRC (`.damaged`), a second gzip member
/// or any other bytes after the first (`.damaged`: cfitsio and most FITS readers see only the
/// first member, so the file means different things to different readers), a decompressed size
/// above `maxDecompressedBytes` (`.tooLarge`), and everything the structure scan refuses in the
/// decompressed FITS.
public enum CompressedFileCheck {
    /// Default bound on a `.gz` file's decompressed size: 4 GiB, above a 4096² 64-bit frame with
    /// extensions, far below what would exhaust the machine's disk or patience.
    public static let defaultMaxDecompressedBytes: Int64 = 4 << 30

    static let inputChunk = 256 << 10
    static let outputChunk = 1 << 20

    /// The gzip magic number, RFC 1952 §2.3.1.
    public static let gzipMagic: [UInt8] = [0x1F, 0x8B]

    /// Inflates the whole file and scans the FITS structure inside.
    /// - Returns: the layout (shapes and the kept headers), having verified every byte.
    public static func checkGzip(path: String, maxDecompressedBytes: Int64 = defaultMaxDecompressedBytes)
        throws(FITSError) -> FITSStructureScanner.Layout {
        func failure(_ kind: FITSError.Kind, _ detail: String) -> FITSError {
            FITSError(kind: kind, path: path, operation: "decompressing gzip", detail: detail)
        }
        // O_NONBLOCK: a FIFO put in place of the file must never block the reader.
        let fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw failure(.cfitsio, "cannot open: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            throw failure(.unsupported, "not a regular file")
        }

        var stream = z_stream()
        guard inflateInit2_(&stream, 15 + 16, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw failure(.cfitsio, "zlib could not start: \(stream.msg.map { String(cString: $0) } ?? "out of memory")")
        }
        defer { inflateEnd(&stream) }

        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: inputChunk)
        let output = UnsafeMutablePointer<UInt8>.allocate(capacity: outputChunk)
        defer { input.deallocate(); output.deallocate() }
        var scanner = FITSStructureScanner(path: path)
        var compressedRead: Int64 = 0
        var decompressed: Int64 = 0
        var ended = false

        while !ended {
            let n = read(fd, input, inputChunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(.cfitsio, "read error after \(compressedRead.grouped) bytes: \(String(cString: strerror(errno)))")
            }
            if n == 0 {
                throw failure(.truncated, "the gzip stream ends after \(compressedRead.grouped) compressed bytes (\(decompressed.grouped) decompressed) without its end marker")
            }
            compressedRead += Int64(n)
            stream.next_in = input
            stream.avail_in = UInt32(n)
            repeat {
                stream.next_out = output
                stream.avail_out = UInt32(outputChunk)
                let status = inflate(&stream, Z_NO_FLUSH)
                let produced = outputChunk - Int(stream.avail_out)
                if produced > 0 {
                    decompressed += Int64(produced)
                    if decompressed > maxDecompressedBytes {
                        throw failure(.tooLarge, "decompresses to more than \(maxDecompressedBytes.grouped) bytes (ingest.maxDecompressedBytes) from \(compressedRead.grouped) compressed bytes read so far")
                    }
                    try scanner.consume(UnsafeRawBufferPointer(start: output, count: produced))
                }
                switch status {
                case Z_OK, Z_BUF_ERROR: break
                case Z_STREAM_END: ended = true
                case Z_NEED_DICT, Z_DATA_ERROR:
                    let why = stream.msg.map { String(cString: $0) } ?? "invalid deflate data"
                    let at = compressedRead - Int64(stream.avail_in)
                    throw failure(.damaged, "cannot uncompress gzip data (\(why)) near compressed byte \(at.grouped), \(decompressed.grouped) bytes decompressed")
                default:
                    throw failure(.cfitsio, "zlib error \(status) after \(decompressed.grouped) decompressed bytes")
                }
            } while !ended && (stream.avail_in > 0 || stream.avail_out == 0)
        }

        // After the first member: a second member, or anything else, is refused.
        let memberEnd = compressedRead - Int64(stream.avail_in)
        var rest = Array(UnsafeBufferPointer(start: stream.next_in, count: Int(stream.avail_in)))
        if rest.count < 2 {
            var more = [UInt8](repeating: 0, count: 2)
            let n = more.withUnsafeMutableBytes { read(fd, $0.baseAddress, 2) }
            if n > 0 { rest += more.prefix(n) }
        }
        if !rest.isEmpty {
            let total = Int64(info.st_size)
            if rest.starts(with: gzipMagic) {
                throw failure(.damaged, "a second gzip member starts at byte \(memberEnd.grouped) of \(total.grouped): files of several appended gzip streams are refused, since FITS readers see only the first")
            }
            throw failure(.damaged, "\((total - memberEnd).grouped) bytes of trailing garbage after the gzip stream (which ends at byte \(memberEnd.grouped))")
        }
        return try scanner.finish()
    }
}
