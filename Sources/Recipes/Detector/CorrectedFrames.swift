import CalibCore

/// Raw frames with a master (bias or dark, in ADU, full raw width) subtracted
/// and cropped to the light-sensitive columns, still read a strip at a time.
public struct CorrectedFrames: FrameStripSource {
    public let raw: any FrameStripSource
    /// Subtracted from every frame; same size as the raw frames (nil: nothing).
    public let master: Image?
    /// Multiplies the master per frame (e.g. dark current × exposure time), default 1.
    public let masterScale: [Float]
    public let columns: Range<Int>
    /// Which raw frames, in order.
    public let frames: [Int]

    public init(_ raw: any FrameStripSource, subtracting master: Image?, masterScale: [Float]? = nil,
                columns: Range<Int>, frames: [Int]? = nil) {
        precondition(master == nil || (master!.width == raw.width && master!.height == raw.height), "master size differs from the frames")
        self.raw = raw; self.master = master; self.columns = columns
        self.frames = frames ?? Array(0..<raw.frameCount)
        self.masterScale = masterScale ?? [Float](repeating: 1, count: raw.frameCount)
    }

    public var frameCount: Int { frames.count }
    public var width: Int { columns.count }
    public var height: Int { raw.height }

    /// The same frames restricted to a subset (indices into this source).
    public func subset(_ indices: [Int]) -> CorrectedFrames {
        CorrectedFrames(raw, subtracting: master, masterScale: masterScale, columns: columns, frames: indices.map { frames[$0] })
    }

    public func read(frame: Int, rows: Range<Int>, into buffer: UnsafeMutableBufferPointer<Float>) throws {
        let rawWidth = raw.width
        let f = frames[frame]
        if columns.count == rawWidth && master == nil {
            try raw.read(frame: f, rows: rows, into: buffer)
            return
        }
        guard !rows.isEmpty else { return }
        // Uninitialised: every value is overwritten by the read (no 2 MiB zero fill per strip).
        let strip = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows.count * rawWidth)
        defer { strip.deallocate() }
        try raw.read(frame: f, rows: rows, into: strip)
        let k = masterScale[f], x0 = columns.lowerBound, n = columns.count
        let source = strip.baseAddress!, out = buffer.baseAddress!
        if let master {
            master.pixels.withUnsafeBufferPointer { m in
                for r in 0..<rows.count {
                    let s = source + r * rawWidth + x0, d = out + r * n
                    let mrow = m.baseAddress! + (rows.lowerBound + r) * rawWidth + x0
                    if k == 1 {
                        // v − 1·m is v − m exactly; the loop without the multiply vectorises alike.
                        for i in 0..<n { d[i] = s[i] - mrow[i] }
                    } else {
                        for i in 0..<n { d[i] = s[i] - k * mrow[i] }
                    }
                }
            }
        } else {
            for r in 0..<rows.count { (out + r * n).update(from: source + r * rawWidth + x0, count: n) }
        }
    }

    /// A whole corrected frame.
    public func image(_ frame: Int) throws -> Image {
        var pixels = [Float](repeating: 0, count: width * height)
        try pixels.withUnsafeMutableBufferPointer { try read(frame: frame, rows: 0..<height, into: $0) }
        return Image(width: width, height: height, pixels: pixels)
    }
}

/// Per-pixel flags of the master flat's (and master bias/dark's) bad-pixel
/// extension. Bits 1, 2 and 4 mark pixels not to be trusted; 8 and 16 only
/// say where the flat's response was not measured (its value there is 1).
public enum PixelFlag {
    /// Low sensitivity (cold pixel or column): more than N σ below the median response.
    public static let lowSensitivity: UInt8 = 1
    /// Hot pixel (from the master bias or dark).
    public static let hot: UInt8 = 2
    /// In a hot or cold column.
    public static let badColumn: UInt8 = 4
    /// Between an order edge and the order's plateau: response not measured (set to 1).
    public static let orderEdge: UInt8 = 8
    /// Between orders: response not measured (set to 1).
    public static let interOrder: UInt8 = 16
    /// The bits that make a pixel bad for extraction.
    public static let bad: UInt8 = lowSensitivity | hot | badColumn
}
