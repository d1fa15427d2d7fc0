/// Scratch memory for locating arc lines (`ArcLineLocator`) and fitting them
/// (`GaussianStampFit.fitSingle`), reused from stamp to stamp by one worker.
///
/// Why: a frame has thousands of stamps of a few hundred pixels each, and the
/// work per stamp is a few microseconds once the arithmetic is separable;
/// the ~30 small arrays the straightforward code allocated per stamp (stamp,
/// clipping copies, convolution, profile tables, normal equations) cost as
/// much as the arithmetic and contend on the allocator across threads. One
/// workspace per worker grows to the largest stamp seen and is never shared
/// between threads (it is not `Sendable`).
final class LineFindingWorkspace {
    private(set) var pixelCapacity = 0
    private(set) var sideCapacity = 0

    /// Stamp pixels (median removed, NaN kept), their copy for the clipped statistics and its sort's
    /// scratch: `pixelCapacity` each.
    private(set) var stamp: UnsafeMutablePointer<Float>
    private(set) var clipValues: UnsafeMutablePointer<Float>
    private(set) var clipScratch: UnsafeMutablePointer<Float>
    /// Fit window (or the detection's zero-padded stamp) as Double with NaN pixels set to 0, and the
    /// NaN pixels' indices: `pixelCapacity` each.
    private(set) var data: UnsafeMutablePointer<Double>
    private(set) var nanIndices: UnsafeMutablePointer<Int>
    /// Detection: row-pass Gaussian and box sums, convolved values: `pixelCapacity` each.
    private(set) var rowGauss: UnsafeMutablePointer<Double>
    private(set) var rowBox: UnsafeMutablePointer<Double>
    private(set) var convolved: UnsafeMutablePointer<Double>
    /// One-dimensional tables of `sideCapacity`: detection kernel; x and y profiles
    /// (value, d/dcentre, d/dσ) and the values at a trial step; data projected on the y profiles (Σⱼ d·1, d·gy, d·∂gy/∂σ, d·∂gy/∂y).
    private(set) var kernel: UnsafeMutablePointer<Double>
    /// The σ the detection kernel in `kernel` was computed for (NaN: none), with its mean and Σ(k − mean)².
    var kernelSigma = Double.nan, kernelMean = 0.0, kernelNorm2 = 0.0
    private(set) var gxTrial: UnsafeMutablePointer<Double>, gyTrial: UnsafeMutablePointer<Double>
    private(set) var gx: UnsafeMutablePointer<Double>, dgxC: UnsafeMutablePointer<Double>, dgxS: UnsafeMutablePointer<Double>
    private(set) var gy: UnsafeMutablePointer<Double>, dgyC: UnsafeMutablePointer<Double>, dgyS: UnsafeMutablePointer<Double>
    private(set) var t0: UnsafeMutablePointer<Double>, t1: UnsafeMutablePointer<Double>
    private(set) var t2: UnsafeMutablePointer<Double>, t3: UnsafeMutablePointer<Double>
    /// Levenberg–Marquardt state of the single-line fit (6 parameters): parameters, trial, step, Jᵀr,
    /// JᵀJ, damped JᵀJ, and a unit vector and a column for the covariance.
    let parameters = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    let trial = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    let step = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    let jtr = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    let jtj = UnsafeMutablePointer<Double>.allocate(capacity: 36)
    let damped = UnsafeMutablePointer<Double>.allocate(capacity: 36)
    let unit = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    let column = UnsafeMutablePointer<Double>.allocate(capacity: 6)
    /// 4 × 4 cross sums of the x factors, of the y factors, and of the x factors with the projected data.
    let sumsX = UnsafeMutablePointer<Double>.allocate(capacity: 16)
    let sumsY = UnsafeMutablePointer<Double>.allocate(capacity: 16)
    let dataSums = UnsafeMutablePointer<Double>.allocate(capacity: 16)

    init(pixels: Int = 32 * 32, side: Int = 64) {
        stamp = .allocate(capacity: 1); clipValues = .allocate(capacity: 1); clipScratch = .allocate(capacity: 1)
        data = .allocate(capacity: 1); nanIndices = .allocate(capacity: 1)
        rowGauss = .allocate(capacity: 1); rowBox = .allocate(capacity: 1); convolved = .allocate(capacity: 1)
        kernel = .allocate(capacity: 1)
        gxTrial = .allocate(capacity: 1); gyTrial = .allocate(capacity: 1)
        gx = .allocate(capacity: 1); dgxC = .allocate(capacity: 1); dgxS = .allocate(capacity: 1)
        gy = .allocate(capacity: 1); dgyC = .allocate(capacity: 1); dgyS = .allocate(capacity: 1)
        t0 = .allocate(capacity: 1); t1 = .allocate(capacity: 1); t2 = .allocate(capacity: 1); t3 = .allocate(capacity: 1)
        reserve(pixels: pixels, side: side)
    }

    deinit {
        releasePixelBuffers(); releaseSideBuffers()
        for p in [parameters, trial, step, jtr, jtj, damped, unit, column, sumsX, sumsY, dataSums] { p.deallocate() }
    }

    /// Makes room for `pixels` pixels and tables of `side` entries (never shrinks). A buffer that
    /// grows loses its contents: reserve before filling.
    func reserve(pixels: Int, side: Int) {
        if pixels > pixelCapacity {
            releasePixelBuffers()
            let n = max(pixels, 2 * pixelCapacity)
            stamp = .allocate(capacity: n); clipValues = .allocate(capacity: n); clipScratch = .allocate(capacity: n)
            data = .allocate(capacity: n); nanIndices = .allocate(capacity: n)
            rowGauss = .allocate(capacity: n); rowBox = .allocate(capacity: n); convolved = .allocate(capacity: n)
            pixelCapacity = n
        }
        if side > sideCapacity {
            releaseSideBuffers()
            let n = max(side, 2 * sideCapacity)
            kernel = .allocate(capacity: n); kernelSigma = .nan
            gxTrial = .allocate(capacity: n); gyTrial = .allocate(capacity: n)
            gx = .allocate(capacity: n); dgxC = .allocate(capacity: n); dgxS = .allocate(capacity: n)
            gy = .allocate(capacity: n); dgyC = .allocate(capacity: n); dgyS = .allocate(capacity: n)
            t0 = .allocate(capacity: n); t1 = .allocate(capacity: n); t2 = .allocate(capacity: n); t3 = .allocate(capacity: n)
            sideCapacity = n
        }
    }

    private func releasePixelBuffers() {
        stamp.deallocate(); clipValues.deallocate(); clipScratch.deallocate()
        data.deallocate(); nanIndices.deallocate()
        for p in [rowGauss, rowBox, convolved] { p.deallocate() }
    }

    private func releaseSideBuffers() {
        for p in [kernel, gxTrial, gyTrial, gx, dgxC, dgxS, gy, dgyC, dgyS, t0, t1, t2, t3] { p.deallocate() }
    }
}
