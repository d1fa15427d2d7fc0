import CalibDB

/// One QC metric of a product with the range it was judged against
/// (`docs/schema/qc-metric.schema.json`): `qc show --json`, the `qc` of a
/// product, and `export qc`. `value` is null when the metric could not be
/// measured; `min`/`max` are null for an open end or no range.
public struct QCMetricJSON: Encodable, Sendable {
    public var productId: Int64
    public var name: String
    @Nullable public var value: Double?
    public var unit: String
    @Nullable public var min: Double?
    @Nullable public var max: Double?
    public var passed: Bool

    public init(_ m: QCMetricRecord) {
        productId = m.productId; name = m.name; value = JSONOutput.finite(m.value); unit = m.unit
        min = JSONOutput.finite(m.rangeMin); max = JSONOutput.finite(m.rangeMax); passed = m.passed
    }
}
