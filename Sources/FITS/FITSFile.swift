import CFITSIO

/// An open FITS file and its current HDU, as cfitsio tracks them.
///
/// Not Sendable: a cfitsio `fitsfile*` carries a current-HDU cursor and buffers that must not be
/// shared between threads. Open one FITSFile per task and pass only values (headers, pixel arrays,
/// tables) across tasks. The file is closed in deinit; call `close()` to see close errors, which
/// matter after writing because cfitsio flushes buffers and padding then.
public final class FITSFile {
    /// The path as given by the caller.
    public let path: String
    private var handle: UnsafeMutablePointer<fitsfile>?
    /// True when image HDUs are written tile-compressed (file created with a ".fz" name).
    let writesCompressedImages: Bool
    /// Which figure of `FITSIOClock` this file's calls count towards.
    let direction: FITSIOClock.Direction

    private init(path: String, handle: UnsafeMutablePointer<fitsfile>, writesCompressedImages: Bool, direction: FITSIOClock.Direction) {
        self.path = path
        self.handle = handle
        self.writesCompressedImages = writesCompressedImages
        self.direction = direction
    }

    deinit {
        if let handle {
            var status: Int32 = 0
            _ = exclusiveCFITSIO(direction) { ffclos(handle, &status) }
        }
    }

    /// Opens an existing file by its name as it stands on disk. cfitsio reads gzip-compressed
    /// files (decompressing into memory) and tile-compressed ".fz" images transparently.
    ///
    /// cfitsio's extended filename syntax is deliberately not interpreted (`fits_open_diskfile`):
    /// a raw file may be called `a[1].fits`, `+x.fits` or `!x.fits`, and must open as that file,
    /// not as an HDU selection, a filter or an instruction to overwrite.
    public static func open(_ path: String, writable: Bool = false) throws(FITSError) -> FITSFile {
        var handle: UnsafeMutablePointer<fitsfile>?
        var status: Int32 = 0
        let messages = exclusiveCFITSIO(.read) { ffdkopn(&handle, path, writable ? READWRITE : READONLY, &status) }
        guard status == 0, let handle else {
            throw openError(path: path, status: status, messages: messages)
        }
        return FITSFile(path: path, handle: handle, writesCompressedImages: false, direction: writable ? .write : .read)
    }

    /// Creates a new, empty file. A path ending in ".fz" makes every image HDU tile-compressed
    /// (integers with lossless Rice, floating point with lossless GZIP_2, since cfitsio's default
    /// float compression quantizes and loses precision).
    public static func create(_ path: String, overwrite: Bool = false) throws(FITSError) -> FITSFile {
        let compressed = path.hasSuffix(".fz")
        let name = (overwrite ? "!" : "") + path + (compressed ? "[compress]" : "")
        var handle: UnsafeMutablePointer<fitsfile>?
        var status: Int32 = 0
        let messages = exclusiveCFITSIO(.write) { ffinit(&handle, name, &status) }
        guard status == 0, let handle else {
            throw FITSError(kind: .cfitsio, path: path, operation: "creating file", status: status, messages: messages)
        }
        return FITSFile(path: path, handle: handle, writesCompressedImages: compressed, direction: .write)
    }

    /// Flushes and closes the file; later calls on this object throw `.invalidArgument`.
    public func close() throws(FITSError) {
        guard let handle else { return }
        self.handle = nil
        var status: Int32 = 0
        let messages = exclusiveCFITSIO(direction) { ffclos(handle, &status) }
        if status != 0 {
            throw FITSError(kind: .cfitsio, path: path, operation: "closing file", status: status, messages: messages)
        }
    }

    /// Number of HDUs. In a truncated file this counts the HDUs whose headers are complete.
    public func hduCount() throws(FITSError) -> Int {
        var count: Int32 = 0
        try call("counting HDUs") { ffthdu($0, &count, &$1) }
        return Int(count)
    }

    /// 1-based number of the current HDU.
    public func currentHDU() throws(FITSError) -> Int {
        var number: Int32 = 0
        try call("reading current HDU number") { ffghdn($0, &number) }
        return Int(number)
    }

    /// Makes HDU `hdu` (1-based, as in cfitsio) current.
    @discardableResult
    public func moveTo(hdu: Int) throws(FITSError) -> HDUKind {
        var type: Int32 = 0
        try call("moving to HDU \(hdu)") { ffmahd($0, Int32(clamping: hdu), &type, &$1) }
        return try HDUKind(cfitsioType: type, path: path)
    }

    /// Makes the first HDU whose EXTNAME (or HDUNAME) equals `extensionName` current.
    @discardableResult
    public func moveTo(extensionName: String) throws(FITSError) -> HDUKind {
        var name = Array(extensionName.utf8CString)
        do throws(FITSError) {
            try call("moving to extension '\(extensionName)'") { ffmnhd($0, ANY_HDU, &name, 0, &$1) }
        } catch where error.status == BAD_HDU_NUM {
            throw FITSError(kind: .cfitsio, path: path, operation: error.operation,
                            detail: "no HDU has EXTNAME '\(extensionName)'", status: error.status, messages: error.messages)
        }
        return try currentKind()
    }

    /// Kind of the current HDU.
    public func currentKind() throws(FITSError) -> HDUKind {
        var type: Int32 = 0
        try call("reading HDU type") { ffghdt($0, &type, &$1) }
        return try HDUKind(cfitsioType: type, path: path)
    }

    /// All cards of the current HDU. Tile-compressed images report the header of the image they
    /// hold (BITPIX/NAXISn of the image, no ZIMAGE/TFORMn bookkeeping), so compressed and plain
    /// inputs look alike to callers.
    public func readHeader() throws(FITSError) -> FITSHeader {
        var text: UnsafeMutablePointer<CChar>?
        var count: Int32 = 0
        try call("reading header") { ffcnvthdr2str($0, 0, nil, 0, &text, &count, &$1) }
        guard let text else { return FITSHeader() }
        let records = UnsafeBufferPointer(start: text, count: Int(count) * 80).map { UInt8(bitPattern: $0) }
        try call("releasing header text") { _, status in fffree(text, &status) }
        var header = FITSHeader()
        _ = exclusiveCFITSIO { header = HeaderParser.parse(records: records) }
        return header
    }

    /// Runs one cfitsio call against the open file and turns a non-zero status into a FITSError.
    ///
    /// The body receives the file pointer and the status to pass to cfitsio. Read failures are
    /// checked against the file's byte layout so that a short file reports `.truncated`.
    func call(_ operation: @autoclosure () -> String,
              _ body: (UnsafeMutablePointer<fitsfile>, inout Int32) -> Void) throws(FITSError) {
        guard let handle else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation(), detail: "file is closed")
        }
        var status: Int32 = 0
        let messages = exclusiveCFITSIO(direction) { body(handle, &status) }
        guard status != 0 else { return }
        if status == END_OF_FILE || status == READ_ERROR, let shortfall = truncationDetail() {
            throw FITSError(kind: .truncated, path: path, operation: operation(), detail: shortfall,
                            status: status, messages: messages)
        }
        let kind: FITSError.Kind = status == KEY_NO_EXIST ? .keywordMissing : .cfitsio
        throw FITSError(kind: kind, path: path, operation: operation(), status: status, messages: messages)
    }

    /// Variant of `call` for cfitsio functions that do not take a status argument.
    func call(_ operation: @autoclosure () -> String,
              _ body: (UnsafeMutablePointer<fitsfile>) -> Void) throws(FITSError) {
        try call(operation()) { handle, _ in body(handle) }
    }

    /// The size cfitsio sees for the underlying file (for gzip input, the decompressed size).
    var physicalSize: Int64? {
        handle.map { $0.pointee.Fptr.pointee.filesize }
    }

    private static func openError(path: String, status: Int32, messages: [String]) -> FITSError {
        switch status {
        case NO_SIMPLE, UNKNOWN_REC:
            return FITSError(kind: .notFITS, path: path, operation: "opening file",
                             detail: "the first header record is not SIMPLE", status: status, messages: messages)
        case END_OF_FILE, READ_ERROR:
            return FITSError(kind: .truncated, path: path, operation: "opening file",
                             detail: "the primary header is incomplete", status: status, messages: messages)
        default:
            return FITSError(kind: .cfitsio, path: path, operation: "opening file", status: status, messages: messages)
        }
    }
}

@available(*, unavailable, message: "a cfitsio handle must stay on one task; pass values instead")
extension FITSFile: Sendable {}
