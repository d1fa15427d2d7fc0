import CalibCore
import Foundation

/// A pin in force, as `pin list --json` gives it (`docs/schema/pin.schema.json`):
/// nights as `YYYY-MM-DD`, the setup it applies to as an object (empty: any),
/// and, for a pin forced past a refusal, the refusal it overrode.
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
    public var createdAt: Date
    /// True when `pin add --force` overrode a refusal (QC failed, file missing).
    public var forced: Bool
    /// The refusal that was overridden; null for an ordinary pin.
    @Nullable public var forcedOver: String?

    public init(id: Int64, pin: CalibrationPin, createdAt: Date) {
        self.id = id; productId = pin.productId; type = pin.type.rawValue; instrument = pin.instrument
        firstNight = pin.firstNight.description; lastNight = pin.lastNight.description; setup = pin.setup.values
        note = pin.note; createdBy = pin.createdBy; self.createdAt = createdAt
        forced = pin.forced; forcedOver = pin.forcedOver
    }
}
