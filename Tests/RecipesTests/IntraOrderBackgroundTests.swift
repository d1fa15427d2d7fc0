import CalibCore
import Foundation
import Recipes
import Testing

/// Synthetic frames: six straight, slightly tilted orders 16 px wide with 20 px
/// gaps on a 256² detector, bright (5000 ADU) over a known smooth background.
enum SyntheticOrders {
    static let size = 256

    static func centre(_ order: Int, _ y: Int) -> Double { 20 + 36 * Double(order) + 0.02 * Double(y) }

    static func geometry() throws -> OrderGeometry {
        var points: [[Double]] = [], centres: [Double] = [], lowers: [Double] = [], uppers: [Double] = []
        for order in 1...6 {
            for y in stride(from: 0, to: size, by: 8) {
                points.append([Double(order), Double(y)])
                centres.append(centre(order, y)); lowers.append(centre(order, y) - 8); uppers.append(centre(order, y) + 8)
            }
        }
        let fit = PolynomialSurfaceFit(degrees: [1, 1])
        return OrderGeometry(orders: Array(1...6), rowRanges: Dictionary(uniqueKeysWithValues: (1...6).map { ($0, 0...(size - 1)) }),
                             centre: try fit.fit(points: points, values: centres).surface,
                             lowerEdge: try fit.fit(points: points, values: lowers).surface,
                             upperEdge: try fit.fit(points: points, values: uppers).surface)
    }

    /// The background alone and the frame (background plus orders).
    static func frame(background: (Int, Int) -> Float) -> (background: Image, frame: Image) {
        var b = Image(width: size, height: size), f = Image(width: size, height: size)
        for y in 0..<size {
            for x in 0..<size {
                b[x, y] = background(x, y)
                let inOrder = (1...6).contains { abs(Double(x) - centre($0, y)) <= 8 }
                f[x, y] = b[x, y] + (inOrder ? 5000 : 0)
            }
        }
        return (b, f)
    }

    static func maxError(_ a: Image, _ b: Image) -> Float {
        zip(a.pixels, b.pixels).map { abs($0 - $1) }.max() ?? .nan
    }
}

@Suite("Intra-order background fit on synthetic orders")
struct IntraOrderBackgroundTests {
    @Test("A background quadratic in x and linear in y is recovered under and between the orders")
    func quadraticBackground() throws {
        // Given a noise-free background of 50–65 ADU curved across the rows
        let (truth, frame) = SyntheticOrders.frame { x, y in
            let u = Float(x) / 256
            return 50 + 20 * u - 30 * (u - 0.5) * (u - 0.5) + 10 * Float(y) / 256
        }
        // When it is fitted without smoothing
        let result = IntraOrderBackground(margin: 2, smoothSigma: 0, noiseFloor: 1).fit(frame, geometry: try SyntheticOrders.geometry())
        // Then it matches everywhere to 0.1 % of its level, and every row was fitted
        let worst = SyntheticOrders.maxError(result.background, truth)
        print("quadratic background: worst error \(worst) ADU; \(result.medianSamplesPerRow) samples per row")
        #expect(worst < 0.05)
        #expect(result.failedRows == 0)
    }

    @Test("Gaussian smoothing keeps a constant background constant, to the detector's edges")
    func smoothingKeepsAConstant() throws {
        let (truth, frame) = SyntheticOrders.frame { _, _ in 80 }
        let result = IntraOrderBackground(margin: 2, smoothSigma: 10, noiseFloor: 1).fit(frame, geometry: try SyntheticOrders.geometry())
        #expect(SyntheticOrders.maxError(result.background, truth) < 1e-3)
    }

    @Test("σ-clipping removes hot pixels in the gaps that would otherwise bias the fit")
    func clipping() throws {
        // Given a flat background of 100 ADU with 2000-ADU hot pixels in one gap, every other row
        let (truth, clean) = SyntheticOrders.frame { _, _ in 100 }
        var frame = clean
        for y in stride(from: 0, to: SyntheticOrders.size, by: 2) {
            let x = Int((SyntheticOrders.centre(3, y) + 18).rounded())
            frame[x, y] += 2000
        }
        let geometry = try SyntheticOrders.geometry()
        // When fitted with and without clipping
        let clipped = IntraOrderBackground(margin: 2, clipIterations: 5, smoothSigma: 0, noiseFloor: 1).fit(frame, geometry: geometry)
        let unclipped = IntraOrderBackground(margin: 2, clipIterations: 0, smoothSigma: 0, noiseFloor: 1).fit(frame, geometry: geometry)
        let (a, b) = (SyntheticOrders.maxError(clipped.background, truth), SyntheticOrders.maxError(unclipped.background, truth))
        print("hot pixels: worst error clipped \(a) ADU, unclipped \(b) ADU")
        // Then the clipped fit stays within 0.1 ADU of the truth; the unclipped one does not
        #expect(a < 0.1)
        #expect(b > 10 * a)
    }
}
