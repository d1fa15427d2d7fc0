/// Lamp-off frames that go with a recipe's lamp frames on a detector without a bias
/// (a near-infrared array, whose offset and dark signal only a frame of the same DIT
/// and NDIT removes). SOXSPIPE subtracts the lamp-off frame of each lamp-on/off pair
/// (`soxs_mflat`: `NIR_LAMP_OFF_TYPE = "DARK"`); calibd combines the set's lamp-off
/// frames and subtracts that where other setups subtract their MBIAS.
///
/// ```yaml
/// inputs: {type: FLAT, lamp: QTH, min: 3, max: 30, match: [arm, ndit, exptime, lamp],
///          lampOff: {type: DARK, lamp: "OFF", min: 1, max: 10, setup: "arm=NIR"}}
/// ```
///
/// The lamp-off frames of a set are those of the same night whose setup agrees with the
/// set's lamp frames in the recipe's match keys (the `lamp` key aside) and in `match`
/// (default `exptime`: the same DIT; add the NDIT's setup key). When some share a
/// template with the lamp frames, only those are taken (the same slit and thermal
/// background); otherwise every matching one.
public struct LampOffInputs: Sendable, Decodable, Equatable {
    public var type: FrameType
    public var lamp: String?
    public var min: Int
    public var max: Int
    /// `key=value`: only sets of that setup take lamp-off frames (nil: every set).
    public var setup: String?
    /// Setup keys (and `exptime`) the lamp-off frames must share with the lamp frames besides the recipe's match keys.
    public var match: [String]

    public init(type: FrameType, lamp: String? = nil, min: Int = 1, max: Int = 10, setup: String? = nil, match: [String] = ["exptime"]) {
        self.type = type; self.lamp = lamp; self.min = min; self.max = max; self.setup = setup; self.match = match
    }

    enum CodingKeys: String, CodingKey { case type, lamp, min, max, setup, match }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decode(FrameType.self, forKey: .type)
        lamp = try c.decodeIfPresent(String.self, forKey: .lamp)
        min = try c.decodeIfPresent(Int.self, forKey: .min) ?? 1
        max = try c.decodeIfPresent(Int.self, forKey: .max) ?? 10
        setup = try c.decodeIfPresent(String.self, forKey: .setup)
        match = try c.decodeIfPresent([String].self, forKey: .match) ?? ["exptime"]
        guard min >= 1, max >= min else {
            throw DecodingError.dataCorruptedError(forKey: .max, in: c, debugDescription: "need 1 <= min <= max lamp-off frames")
        }
        if let setup, SetupScoped.parseScope(setup) == nil {
            throw DecodingError.dataCorruptedError(forKey: .setup, in: c, debugDescription: "'\(setup)' is not key=value")
        }
    }

    /// Whether sets of frames with this setup take lamp-off frames.
    public func applies(to setup: Setup) -> Bool {
        guard let scope = self.setup.flatMap(SetupScoped.parseScope) else { return true }
        return setup[scope.key] == scope.value
    }

    /// Whether a frame is one of these lamp-off frames.
    public func admits(type: FrameType, lamp: String?) -> Bool {
        type == self.type && (self.lamp == nil || lamp == self.lamp)
    }
}
