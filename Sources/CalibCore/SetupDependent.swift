/// A detector setting that may differ by arm (or another setup key): one
/// value for every frame (`orientation: rotate180`), or one per value of a
/// setup key (`orientation: {by: arm, values: {UVB: rotate180, NIR: rotate90}}`;
/// a frame whose value is not named gets none) — X-shooter's arms sit on
/// differently mounted detectors with different light-sensitive windows.
public struct SetupDependent<Value: Sendable & Equatable & Codable>: Sendable, Equatable, Codable {
    public var fixed: Value?
    public var selector: String?
    public var byValue: [String: Value]

    public init(fixed: Value) { self.fixed = fixed; selector = nil; byValue = [:] }
    public init(selector: String, byValue: [String: Value]) { fixed = nil; self.selector = selector; self.byValue = byValue }

    /// The value for a frame whose setup is `setup`, nil when none applies.
    public func value(for setup: Setup) -> Value? {
        if let fixed { return fixed }
        guard let selector, let key = setup[selector] else { return nil }
        return byValue[key]
    }

    private enum CodingKeys: String, CodingKey { case by, values }

    public init(from decoder: any Decoder) throws {
        if let single = try? decoder.singleValueContainer().decode(Value.self) {
            self.init(fixed: single)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(selector: try c.decode(String.self, forKey: .by), byValue: try c.decode([String: Value].self, forKey: .values))
    }

    public func encode(to encoder: any Encoder) throws {
        if let fixed {
            var c = encoder.singleValueContainer()
            try c.encode(fixed)
        } else {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(selector, forKey: .by)
            try c.encode(byValue, forKey: .values)
        }
    }
}
