/// An optional that is written as `null` rather than left out, so that every
/// object of an entity has the same keys (the schemas list them all as required).
/// Swift's synthesised `Encodable` drops nil optionals; this wrapper stops that.
@propertyWrapper
public struct Nullable<Value: Encodable & Sendable>: Encodable, Sendable {
    public var wrappedValue: Value?

    public init(wrappedValue: Value?) { self.wrappedValue = wrappedValue }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        if let wrappedValue { try container.encode(wrappedValue) } else { try container.encodeNil() }
    }
}
