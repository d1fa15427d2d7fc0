import CFITSIO

/// Byte layout of one HDU as its header describes it.
struct HDUSpan {
    let headerStart: Int64
    let dataStart: Int64
    /// End of the data unit including its padding to a 2,880-byte block.
    let dataEnd: Int64
}

extension FITSFile {
    /// Writes DATASUM and CHECKSUM into every HDU. Call last, after all data and keywords are
    /// written: any later change invalidates the sums.
    public func writeChecksums() throws(FITSError) {
        let current = try currentHDU()
        for hdu in stride(from: 1, through: try hduCount(), by: 1) {
            try moveTo(hdu: hdu)
            try call("writing checksums of HDU \(hdu)") { ffpcks($0, &$1) }
        }
        try moveTo(hdu: current)
    }

    /// Per HDU number: true when its CHECKSUM and DATASUM (whichever are present) verify.
    /// HDUs with neither keyword are absent from the result.
    public func verifyChecksums() throws(FITSError) -> [Int: Bool] {
        var results: [Int: Bool] = [:]
        for hdu in stride(from: 1, through: try hduCount(), by: 1) {
            try moveTo(hdu: hdu)
            var dataStatus: Int32 = 0
            var hduStatus: Int32 = 0
            try call("verifying checksums of HDU \(hdu)") { ffvcks($0, &dataStatus, &hduStatus, &$1) }
            // ffvcks reports 1 = correct, 0 = keyword absent, -1 = mismatch.
            if dataStatus != 0 || hduStatus != 0 {
                results[hdu] = dataStatus >= 0 && hduStatus >= 0
            }
        }
        return results
    }

    /// Header and data byte offsets of the current HDU.
    func span() throws(FITSError) -> HDUSpan {
        var headerStart: Int64 = 0
        var dataStart: Int64 = 0
        var dataEnd: Int64 = 0
        try call("reading HDU byte layout") { ffghadll($0, &headerStart, &dataStart, &dataEnd, &$1) }
        return HDUSpan(headerStart: headerStart, dataStart: dataStart, dataEnd: dataEnd)
    }

    /// Explains a failed read when the current HDU's data unit extends past the end of the file;
    /// nil when the layout fits, so genuine I/O errors are not mislabelled as truncation.
    func truncationDetail() -> String? {
        guard let size = physicalSize,
              let hdu = try? currentHDU(),
              let layout = try? span(),
              layout.dataEnd > size else { return nil }
        return "data unit of HDU \(hdu) needs \(layout.dataEnd.grouped) bytes, file ends after \(size.grouped)"
    }
}
