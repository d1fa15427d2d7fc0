import CalibCore
import Foundation

/// The offset a detector without a bias needs removed from a lamp frame: its lamp-off
/// frames of the same DIT and NDIT (array offset, dark signal, thermal background),
/// combined, with the noise of one such frame. SOXSPIPE subtracts each pair's lamp-off
/// frame (`soxs_mflat`, NIR); combining the set's lamp-off frames lowers the noise that
/// subtraction adds by √n.
public struct LampOffMaster: Sendable {
    public var stack: SigmaClippedStack

    public init(stack: SigmaClippedStack = SigmaClippedStack()) { self.stack = stack }

    public struct Result: Sendable {
        /// Combined lamp-off frames, ADU, the frames' full size.
        public var image: Image
        /// Robust σ of one lamp-off frame, ADU: read noise plus dark shot noise.
        public var noiseADU: Double
        public var frameCount: Int
    }

    /// - Parameter source: the lamp-off frames as read (not cropped).
    ///
    /// Noise: with two frames or more, the robust σ of the first two's difference over √2
    /// (the array's fixed offset pattern cancels); with one, of neighbouring columns'
    /// difference over √2, which an offset pattern varying from column to column inflates —
    /// an upper bound, so clipping against it is only looser. NaN pixels are left out.
    public func run(_ source: any FrameStripSource) throws -> Result {
        precondition(source.frameCount > 0, "no lamp-off frames")
        let first = try Self.wholeFrame(source, 0)
        let noise = try Self.noise(source, first: first)
        let image: Image
        if source.frameCount == 1 {
            image = Image(width: source.width, height: source.height, pixels: first)
        } else {
            image = try stack.combine(source, noiseFloor: Float(noise)).image
        }
        return Result(image: image, noiseADU: noise, frameCount: source.frameCount)
    }

    /// The robust σ of one frame of `source`, ADU, as `run` measures it (see there): for a
    /// master dark of a detector without a bias too, whose clipping needs a noise floor.
    public static func noise(_ source: any FrameStripSource) throws -> Double {
        try noise(source, first: try wholeFrame(source, 0))
    }

    static func noise(_ source: any FrameStripSource, first: [Float]) throws -> Double {
        var differences: [Float]
        if source.frameCount >= 2 {
            let second = try wholeFrame(source, 1)
            differences = zip(first, second).map { $0 - $1 }
        } else {
            let w = source.width
            differences = first.indices.compactMap { i in i % w == w - 1 ? nil : first[i + 1] - first[i] }
        }
        let (_, sigma) = RobustStatistics.madSigma(MasterBias.subsample(differences, max: 1 << 20))
        return sigma / 2.0.squareRoot()
    }

    static func wholeFrame(_ source: any FrameStripSource, _ frame: Int) throws -> [Float] {
        var pixels = [Float](repeating: 0, count: source.width * source.height)
        try pixels.withUnsafeMutableBufferPointer { try source.read(frame: frame, rows: 0..<source.height, into: $0) }
        return pixels
    }
}
