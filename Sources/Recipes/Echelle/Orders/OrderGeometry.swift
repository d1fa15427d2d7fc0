/// Where the echelle orders lie on the detector: the order-centre trace
/// x = Σ cᵢⱼ nⁱ yʲ and, once a master flat has found them, the lower and
/// upper order edges in the same form (n the physical echelle order number,
/// y the dispersion-axis row, x the cross-dispersion column; pixel centres at
/// integer coordinates).
///
/// This is the content of the ORDER_CENTRES and MFLAT order tables; the
/// extraction of flats, arcs and science reads it.
public struct OrderGeometry: Sendable, Codable, Equatable {
    /// Physical order numbers, ascending.
    public var orders: [Int]
    /// Rows over which each order's trace is valid (where it was detected), by order number.
    public var rowRanges: [Int: ClosedRange<Int>]
    public var centre: PolynomialSurface
    public var lowerEdge: PolynomialSurface?
    public var upperEdge: PolynomialSurface?

    public init(orders: [Int], rowRanges: [Int: ClosedRange<Int>], centre: PolynomialSurface,
                lowerEdge: PolynomialSurface? = nil, upperEdge: PolynomialSurface? = nil) {
        self.orders = orders; self.rowRanges = rowRanges; self.centre = centre
        self.lowerEdge = lowerEdge; self.upperEdge = upperEdge
    }

    /// x of the order centre at row y.
    public func centre(order: Int, y: Double) -> Double { centre.evaluate(Double(order), y) }

    /// x of the lower and upper edges at row y (nil before edges are traced).
    public func edges(order: Int, y: Double) -> (lower: Double, upper: Double)? {
        guard let lowerEdge, let upperEdge else { return nil }
        return (lowerEdge.evaluate(Double(order), y), upperEdge.evaluate(Double(order), y))
    }
}
