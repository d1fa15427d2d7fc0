import CFITSIO

/// The kind of an HDU as cfitsio presents it; tile-compressed images count as `.image`.
public enum HDUKind: Sendable {
    case image
    case asciiTable
    case binaryTable
}

extension HDUKind {
    init(cfitsioType: Int32, path: String) throws(FITSError) {
        switch cfitsioType {
        case IMAGE_HDU: self = .image
        case ASCII_TBL: self = .asciiTable
        case BINARY_TBL: self = .binaryTable
        default:
            throw FITSError(kind: .unsupported, path: path, operation: "reading HDU type",
                            detail: "unknown cfitsio HDU type \(cfitsioType)")
        }
    }
}
