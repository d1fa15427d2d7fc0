import CFITSIO

extension FITSFile {
    /// Pixels decompressed per cfitsio call while verifying tiles: 1 Mi Float = 4 MiB of buffer,
    /// whatever the image's size.
    static let tileVerificationChunk = 1 << 20

    /// True when the current HDU is a tile-compressed image (a `.fz` file's image extension).
    public func isCompressedImage() throws(FITSError) -> Bool {
        var result: Int32 = 0
        try call("checking for tile compression") { result = fits_is_compressed_image($0, &$1) }
        return result != 0
    }

    /// Decompresses every tile of the tile-compressed image in the current HDU, and verifies the
    /// compressed HDU's DATASUM when it has one, so that a corrupt tile is found when the file is
    /// recorded rather than by the recipe that first reads it. Memory: one 4 MiB buffer plus
    /// cfitsio's one-tile cache.
    ///
    /// - Throws: `.damaged` naming the HDU, the first pixel of the failing stretch and cfitsio's
    ///   reason; a DATASUM mismatch likewise.
    public func verifyCompressedTiles() throws(FITSError) {
        let hdu = try currentHDU()
        var dataStatus: Int32 = 0
        var hduStatus: Int32 = 0
        try call("verifying checksums of HDU \(hdu)") { ffvcks($0, &dataStatus, &hduStatus, &$1) }
        // ffvcks: 1 = correct, 0 = keyword absent, -1 = mismatch.
        if dataStatus < 0 {
            throw FITSError(kind: .damaged, path: path, operation: "verifying compressed tiles",
                            detail: "DATASUM of the compressed HDU \(hdu) does not match its bytes: the compressed tiles are corrupt")
        }
        let shape = try imageShape()
        var total: Int64 = shape.isEmpty ? 0 : 1
        for length in shape {
            let (product, overflow) = total.multipliedReportingOverflow(by: Int64(length))
            guard !overflow, length >= 0 else {
                throw FITSError(kind: .damaged, path: path, operation: "verifying compressed tiles",
                                detail: "ZNAXISn of HDU \(hdu) (\(shape)) overflow a 64-bit pixel count")
            }
            total = product
        }
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: Self.tileVerificationChunk)
        defer { buffer.deallocate() }
        var first: Int64 = 0
        while first < total {
            let count = min(Int64(Self.tileVerificationChunk), total - first)
            var anyUndefined: Int32 = 0
            do throws(FITSError) {
                try call("decompressing tiles of HDU \(hdu)") {
                    ffgpv($0, TFLOAT, first + 1, count, nil, buffer, &anyUndefined, &$1)
                }
            } catch {
                throw FITSError(kind: .damaged, path: path, operation: "verifying compressed tiles",
                                detail: "a tile holding pixels \((first + 1).grouped)…\((first + count).grouped) of HDU \(hdu) does not decompress (\(error.statusText.isEmpty ? "cfitsio error" : error.statusText))",
                                status: error.status, messages: error.messages)
            }
            first += count
        }
    }
}
