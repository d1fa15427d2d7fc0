/// A 2D image of 32-bit floats, row-major with x fastest (FITS order).
///
/// Float32 holds 24 bits of mantissa, ample for 16-bit detector data after
/// combination; a 4096² image is 64 MiB.
public struct Image: Sendable, Equatable {
    public let width: Int
    public let height: Int
    public var pixels: [Float]

    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height, "pixel count \(pixels.count) ≠ \(width)×\(height)")
        self.width = width; self.height = height; self.pixels = pixels
    }

    public init(width: Int, height: Int, value: Float = 0) {
        self.init(width: width, height: height, pixels: [Float](repeating: value, count: width * height))
    }

    @inlinable public subscript(x: Int, y: Int) -> Float {
        get { pixels[y * width + x] }
        set { pixels[y * width + x] = newValue }
    }

    /// A copy of a rectangular region. The whole image is returned as it is (its pixels shared
    /// until either is written): a detector without overscan columns crops to all of itself,
    /// and a copy of a 483 × 4200 master bias is 8 MB for nothing.
    public func cropped(x: Range<Int>, y: Range<Int>) -> Image {
        if x == 0..<width && y == 0..<height { return self }
        var out = [Float]()
        out.reserveCapacity(x.count * y.count)
        for row in y { out.append(contentsOf: pixels[(row * width + x.lowerBound)..<(row * width + x.upperBound)]) }
        return Image(width: x.count, height: y.count, pixels: out)
    }
}
