/// One night's value of a metric, as `qc trend --json` gives it
/// (`docs/schema/qc-trend-point.schema.json`).
public struct QCTrendPointJSON: Encodable, Sendable {
    public var night: String
    public var setup: [String: String]
    public var productId: Int64
    /// null when the metric could not be measured that night.
    @Nullable public var value: Double?

    public init(night: String, setup: String, productId: Int64, value: Double?) {
        self.night = night; self.setup = JSONOutput.setup(setup) ?? [:]; self.productId = productId; self.value = JSONOutput.finite(value)
    }
}
