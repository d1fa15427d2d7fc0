/// BITPIX values of the image HDUs this module reads and writes.
public enum ImageBitpix: Int32, Sendable {
    case uint8 = 8
    case int16 = 16
    case int32 = 32
    case float32 = -32
    case float64 = -64
}
