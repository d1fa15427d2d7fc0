import CZlib
import Foundation

/// Writes 8-bit greyscale or RGB images as PNG (ISO/IEC 15948): signature,
/// IHDR, one zlib-compressed IDAT, IEND, each chunk with its CRC-32. zlib
/// (Debian's zlib1g) does the deflate and the CRC; the rest is the format's
/// few fixed fields. Rows use the "Up" filter, which pays on smooth
/// calibration images (flats, wavelength maps) and costs nothing on noise.
public enum PNGEncoder {
    public enum ColourType: UInt8, Sendable {
        case grey = 0
        case rgb = 2
        var channels: Int { self == .grey ? 1 : 3 }
    }

    public struct EncodingError: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameter pixels: row-major from the top row, `width × height × channels` bytes.
    public static func encode(width: Int, height: Int, colour: ColourType, pixels: [UInt8]) throws -> Data {
        let rowBytes = width * colour.channels
        guard width > 0, height > 0, pixels.count == rowBytes * height else {
            throw EncodingError(description: "PNG of \(width)×\(height) \(colour) needs \(rowBytes * height) bytes, got \(pixels.count)")
        }
        var filtered = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        for y in 0..<height {
            let out = y * (rowBytes + 1), row = y * rowBytes
            filtered[out] = y == 0 ? 0 : 2  // None for the first row, then Up
            for i in 0..<rowBytes {
                filtered[out + 1 + i] = y == 0 ? pixels[row + i] : pixels[row + i] &- pixels[row - rowBytes + i]
            }
        }
        var bound = compressBound(uLong(filtered.count))
        var compressed = [UInt8](repeating: 0, count: Int(bound))
        let status = compress2(&compressed, &bound, filtered, uLong(filtered.count), 6)
        guard status == Z_OK else { throw EncodingError(description: "zlib compress2 failed with status \(status)") }
        compressed.removeSubrange(Int(bound)...)

        var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var header = Data()
        header.append(bigEndian: UInt32(width)); header.append(bigEndian: UInt32(height))
        header.append(contentsOf: [8, colour.rawValue, 0, 0, 0])  // bit depth, colour type, deflate, adaptive filters, no interlace
        appendChunk("IHDR", header, to: &png)
        appendChunk("IDAT", Data(compressed), to: &png)
        appendChunk("IEND", Data(), to: &png)
        return png
    }

    static func appendChunk(_ type: String, _ body: Data, to png: inout Data) {
        png.append(bigEndian: UInt32(body.count))
        let typed = Data(type.utf8) + body
        png.append(typed)
        let crc = typed.withUnsafeBytes { raw in
            crc32(0, raw.bindMemory(to: Bytef.self).baseAddress, uInt(raw.count))
        }
        png.append(bigEndian: UInt32(crc))
    }
}

extension Data {
    mutating func append(bigEndian value: UInt32) {
        append(contentsOf: [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)])
    }
}
