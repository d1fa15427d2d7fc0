import CalibCore

/// Raw frames seen through a master bias: each strip read has the bias
/// subtracted, and pixels at or above the saturation level in the raw frame
/// become NaN (their true value is unknown; combination and extraction then
/// treat them as missing rather than as a low value).
public struct CalibratedFrames: FrameStripSource {
    public let raw: any FrameStripSource
    /// Same shape as the raw frames (overscan included), or nil for none.
    public let bias: Image?
    /// Raw ADU at or above which a pixel is saturated; +∞ for no check.
    public let saturationADU: Float

    public var frameCount: Int { raw.frameCount }
    public var width: Int { raw.width }
    public var height: Int { raw.height }

    public init(raw: any FrameStripSource, bias: Image?, saturationADU: Float = .infinity) {
        if let bias { precondition(bias.width == raw.width && bias.height == raw.height, "master bias shape differs from the frames") }
        self.raw = raw; self.bias = bias; self.saturationADU = saturationADU
    }

    public func read(frame: Int, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        try raw.read(frame: frame, rows: rows, into: buffer)
        let start = rows.lowerBound * width
        let saturation = saturationADU
        if let bias {
            bias.pixels.withUnsafeBufferPointer { b in
                for i in 0..<(rows.count * width) {
                    let v = buffer[i]
                    buffer[i] = v >= saturation ? .nan : v - b[start + i]
                }
            }
        } else {
            for i in 0..<(rows.count * width) where buffer[i] >= saturation { buffer[i] = .nan }
        }
    }

    /// Each frame's lamp level: the 95th percentile of `columns` over a central
    /// band of rows (bright enough to sit on the orders, below their peaks).
    public func levels(columns: Range<Int>) throws -> [Double] {
        let band = min(height, max(32, (1 << 18) / max(columns.count, 1)))
        let first = (height - band) / 2
        var buffer = [Float](repeating: 0, count: band * width)
        var levels: [Double] = []
        for f in 0..<frameCount {
            try buffer.withUnsafeMutableBufferPointer { try read(frame: f, rows: first..<(first + band), into: $0) }
            var values: [Float] = []
            values.reserveCapacity(band * columns.count)
            for r in 0..<band { for x in columns where buffer[r * width + x].isFinite { values.append(buffer[r * width + x]) } }
            levels.append(RobustStatistics.percentileInPlace(&values, 95))
        }
        return levels
    }
}
