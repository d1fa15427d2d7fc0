import CalibCore

/// A pin in force, as `pin list --json` gives it (`docs/schema/pin.schema.json`):
/// nights as `YYYY-MM-DD`, the setup it applies to as an object (empty: any).
public struct PinJSON: Encodable, Sendable {
    public var id: Int64
    public var productId: Int64
    public var type: String
    public var instrument: String
    public var firstNight: String
    public var lastNight: String
    public var setup: [String: String]
    public var note: String
    public var createdBy: String

    public init(id: Int64, pin: CalibrationPin, createdBy: String) {
        self.id = id; productId = pin.productId; type = pin.type.rawValue; instrument = pin.instrument
        firstNight = pin.firstNight.description; lastNight = pin.lastNight.description; setup = pin.setup.values
        note = pin.note; self.createdBy = createdBy
    }
}
