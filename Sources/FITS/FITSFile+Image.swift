import CFITSIO

extension FITSFile {
    /// NAXISn of the current HDU, fastest axis first; [] when it has no data.
    /// For tables this is [bytes per row, rows]; for tile-compressed images the image's own axes.
    public func imageShape() throws(FITSError) -> [Int] {
        guard try currentKind() == .image else {
            var rowBytes: Int64 = 0
            var rows: Int64 = 0
            try call("reading table dimensions") { ffgkyjj($0, "NAXIS1", &rowBytes, nil, &$1) }
            try call("reading table dimensions") { ffgkyjj($0, "NAXIS2", &rows, nil, &$1) }
            return [Int(rowBytes), Int(rows)]
        }
        var axisCount: Int32 = 0
        try call("reading image dimensions") { ffgidm($0, &axisCount, &$1) }
        var axes = [Int64](repeating: 0, count: Int(axisCount))
        try call("reading image dimensions") { ffgiszll($0, axisCount, &axes, &$1) }
        return axes.map { Int($0) }
    }

    /// BITPIX of the image in the current HDU as stored (before BSCALE/BZERO).
    public func imageBitpix() throws(FITSError) -> ImageBitpix {
        var bitpix: Int32 = 0
        try call("reading BITPIX") { ffgidt($0, &bitpix, &$1) }
        guard let known = ImageBitpix(rawValue: bitpix) else {
            throw FITSError(kind: .unsupported, path: path, operation: "reading BITPIX", detail: "BITPIX \(bitpix)")
        }
        return known
    }

    /// Stored 16-bit integers and the Swift type that holds them without scaling.
    public enum SixteenBitType: Sendable {
        /// BZERO 0: `Int16`.
        case int16
        /// BZERO 32768: `UInt16`.
        case uint16
    }

    /// The 16-bit integer type that holds the current image's values exactly, or nil when
    /// there is none: BITPIX 16 with BSCALE 1 and BZERO 0 (`Int16`) or 32768 (`UInt16`), and
    /// no BLANK (ZBLANK) value, which only a floating-point read can turn into NaN.
    ///
    /// Reading such an image as that type and converting to Float afterwards gives exactly the
    /// values a Float read gives, and leaves the conversion outside cfitsio's process-wide lock.
    public func exactSixteenBitType() throws(FITSError) -> SixteenBitType? {
        var equivalent: Int32 = 0
        try call("reading the image's equivalent type") { ffgiet($0, &equivalent, &$1) }
        let header = try readHeader()
        guard header["BLANK"] == nil, header["ZBLANK"] == nil else { return nil }
        switch equivalent {
        case SHORT_IMG: return .int16
        case USHORT_IMG: return .uint16
        default: return nil
        }
    }

    /// Moves to the first HDU holding an image with at least two axes and returns its number.
    /// Needed because tile-compressed files keep the image in HDU 2 behind an empty primary.
    @discardableResult
    public func firstImageHDU() throws(FITSError) -> Int {
        let count = try hduCount()
        for hdu in stride(from: 1, through: count, by: 1) {
            if try moveTo(hdu: hdu) == .image, try imageShape().count >= 2 { return hdu }
        }
        throw FITSError(kind: .unsupported, path: path, operation: "looking for an image HDU",
                        detail: "none of \(count) HDUs holds an image with two or more axes")
    }

    /// The whole image of the current HDU in FITS order (x fastest), with BSCALE/BZERO applied by
    /// cfitsio and undefined pixels as `P.undefinedValue` (NaN for floating point).
    public func readImage<P: FITSPixel>(as type: P.Type = P.self) throws(FITSError) -> [P] {
        guard try currentKind() == .image else {
            throw FITSError(kind: .invalidArgument, path: path, operation: "reading image",
                            detail: "HDU \(try currentHDU()) is a table")
        }
        let shape = try imageShape()
        // Checked: NAXISn come from the file, and a product that overflows must not trap.
        var count = shape.isEmpty ? 0 : 1
        for length in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: length)
            guard !overflow, length >= 0 else {
                throw FITSError(kind: .damaged, path: path, operation: "reading image",
                                detail: "image axes \(shape) overflow a pixel count")
            }
            count = product
        }
        var failure: FITSError?
        let pixels = [P](unsafeUninitializedCapacity: count) { buffer, initialized in
            do throws(FITSError) {
                try readPixels(startingAt: 0, into: buffer)
                initialized = count
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        return pixels
    }

    /// Reads rows `rows` (0-based) of the 2D image in the current HDU into the front of `buffer`,
    /// so a frame can be processed in strips without holding all of it in memory.
    public func readRows<P: FITSPixel>(_ rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<P>) throws(FITSError) {
        let shape = try imageShape()
        let operation = "reading rows \(rows.lowerBound)..<\(rows.upperBound)"
        guard shape.count == 2, try currentKind() == .image else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "current HDU is not a 2D image (shape \(shape))")
        }
        let (width, height) = (shape[0], shape[1])
        guard rows.lowerBound >= 0, rows.upperBound <= height else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "image has \(height) rows")
        }
        guard buffer.count >= rows.count * width else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "buffer holds \(buffer.count) pixels, \(rows.count * width) needed")
        }
        try readPixels(startingAt: rows.lowerBound * width,
                       into: UnsafeMutableBufferPointer(rebasing: buffer[0..<rows.count * width]))
    }

    /// Reads the rectangle `columns` × `rows` (0-based) of the 2D image in the current HDU into the
    /// front of `buffer`, row after row (`columns.count` pixels each): what a strip of a transposed
    /// or quarter-turned frame needs, without reading the rest of it.
    public func readRectangle<P: FITSPixel>(columns: Range<Int>, rows: Range<Int>,
                                            into buffer: UnsafeMutableBufferPointer<P>) throws(FITSError) {
        let shape = try imageShape()
        let operation = "reading columns \(columns.lowerBound)..<\(columns.upperBound) of rows \(rows.lowerBound)..<\(rows.upperBound)"
        guard shape.count == 2, try currentKind() == .image else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "current HDU is not a 2D image (shape \(shape))")
        }
        guard columns.lowerBound >= 0, columns.upperBound <= shape[0], rows.lowerBound >= 0, rows.upperBound <= shape[1] else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "image is \(shape[0]) × \(shape[1])")
        }
        guard buffer.count >= rows.count * columns.count else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "buffer holds \(buffer.count) pixels, \(rows.count * columns.count) needed")
        }
        guard let start = buffer.baseAddress, !columns.isEmpty, !rows.isEmpty else { return }
        // cfitsio's corners are 1-based and inclusive.
        var first = [columns.lowerBound + 1, rows.lowerBound + 1]
        var last = [columns.upperBound, rows.upperBound]
        var step = [1, 1]
        var anyUndefined: Int32 = 0
        guard var undefined = P.undefinedValue else {
            try call(operation) { ffgsv($0, P.cfitsioDatatype, &first, &last, &step, nil, start, &anyUndefined, &$1) }
            return
        }
        try call(operation) { ffgsv($0, P.cfitsioDatatype, &first, &last, &step, &undefined, start, &anyUndefined, &$1) }
    }

    /// Appends an image HDU (the primary HDU if the file is empty) with `header`'s user cards.
    public func writeImage<P: FITSPixel>(_ pixels: [P], width: Int, height: Int,
                                         header: FITSHeader = FITSHeader(),
                                         extensionName: String? = nil) throws(FITSError) {
        guard width > 0, height > 0, pixels.count == width * height else {
            throw FITSError(kind: .invalidArgument, path: path, operation: "writing image",
                            detail: "\(pixels.count) pixels given for \(width) × \(height)")
        }
        if writesCompressedImages {
            try selectLosslessCompression(floatingPoint: P.bitpix.rawValue < 0)
        }
        var axes = [width, height]
        try call("creating image HDU") { ffcrim($0, P.cfitsioImageType, 2, &axes, &$1) }
        try writeUserCards(header, extensionName: extensionName)
        var first = [1, 1]
        try pixels.withUnsafeBufferPointer { (buffer) throws(FITSError) in
            let start = UnsafeMutableRawPointer(mutating: buffer.baseAddress)
            try call("writing image pixels") { ffppx($0, P.cfitsioDatatype, &first, Int64(buffer.count), start, &$1) }
        }
    }

    /// Writes a data-less primary HDU, the usual first HDU of multi-extension products.
    public func writeEmptyPrimary(header: FITSHeader) throws(FITSError) {
        guard try hduCount() == 0 else {
            throw FITSError(kind: .invalidArgument, path: path, operation: "writing empty primary HDU",
                            detail: "the file already has HDUs")
        }
        try call("creating primary HDU") { ffcrim($0, BYTE_IMG, 0, nil, &$1) }
        try writeUserCards(header, extensionName: nil)
    }

    private func readPixels<P: FITSPixel>(startingAt offset: Int, into buffer: UnsafeMutableBufferPointer<P>) throws(FITSError) {
        guard let start = buffer.baseAddress, !buffer.isEmpty else { return }
        let operation = "reading image pixels of HDU \(try currentHDU())"
        var anyUndefined: Int32 = 0
        guard var undefined = P.undefinedValue else {
            try call(operation) {
                ffgpv($0, P.cfitsioDatatype, Int64(offset + 1), Int64(buffer.count), nil, start, &anyUndefined, &$1)
            }
            return
        }
        try call(operation) {
            ffgpv($0, P.cfitsioDatatype, Int64(offset + 1), Int64(buffer.count), &undefined, start, &anyUndefined, &$1)
        }
    }

    /// Chooses lossless tile compression for the next image HDU: cfitsio's default quantizes
    /// floating-point pixels, and its lossless float mode only works with GZIP.
    private func selectLosslessCompression(floatingPoint: Bool) throws(FITSError) {
        let operation = "choosing tile compression"
        if floatingPoint {
            try call(operation) { fits_set_compression_type($0, GZIP_2, &$1) }
            try call(operation) { fits_set_quantize_level($0, 0, &$1) }
        } else {
            try call(operation) { fits_set_compression_type($0, RICE_1, &$1) }
        }
    }
}
