import CFITSIO

/// A Swift element type that cfitsio can convert image pixels to and from.
///
/// cfitsio converts between the stored BITPIX and the requested type and applies BSCALE/BZERO,
/// so any FITSPixel type can read any image; the choice only matters for range and precision.
public protocol FITSPixel: Sendable, BitwiseCopyable {
    /// cfitsio datatype code (TBYTE, TSHORT, ...) naming this Swift type in read/write calls.
    static var cfitsioDatatype: Int32 { get }
    /// Image type passed to ffcrim; differs from `bitpix` only for UInt16, where cfitsio's
    /// USHORT_IMG stores BITPIX 16 with BZERO 32768.
    static var cfitsioImageType: Int32 { get }
    /// BITPIX of an image written from this type.
    static var bitpix: ImageBitpix { get }
    /// Value substituted for undefined pixels when reading: NaN for floating point; nil for integers,
    /// which receive the stored value unchanged because they have no out-of-band value.
    /// cfitsio counts every IEEE special value as undefined, so stored infinities also read as NaN.
    static var undefinedValue: Self? { get }
}

extension UInt8: FITSPixel {
    public static var cfitsioDatatype: Int32 { TBYTE }
    public static var cfitsioImageType: Int32 { BYTE_IMG }
    public static var bitpix: ImageBitpix { .uint8 }
    public static var undefinedValue: UInt8? { nil }
}

extension Int16: FITSPixel {
    public static var cfitsioDatatype: Int32 { TSHORT }
    public static var cfitsioImageType: Int32 { SHORT_IMG }
    public static var bitpix: ImageBitpix { .int16 }
    public static var undefinedValue: Int16? { nil }
}

extension UInt16: FITSPixel {
    public static var cfitsioDatatype: Int32 { TUSHORT }
    public static var cfitsioImageType: Int32 { USHORT_IMG }
    public static var bitpix: ImageBitpix { .int16 }
    public static var undefinedValue: UInt16? { nil }
}

extension Int32: FITSPixel {
    public static var cfitsioDatatype: Int32 { TINT }
    public static var cfitsioImageType: Int32 { LONG_IMG }
    public static var bitpix: ImageBitpix { .int32 }
    public static var undefinedValue: Int32? { nil }
}

extension Float: FITSPixel {
    public static var cfitsioDatatype: Int32 { TFLOAT }
    public static var cfitsioImageType: Int32 { FLOAT_IMG }
    public static var bitpix: ImageBitpix { .float32 }
    public static var undefinedValue: Float? { .nan }
}

extension Double: FITSPixel {
    public static var cfitsioDatatype: Int32 { TDOUBLE }
    public static var cfitsioImageType: Int32 { DOUBLE_IMG }
    public static var bitpix: ImageBitpix { .float64 }
    public static var undefinedValue: Double? { .nan }
}
