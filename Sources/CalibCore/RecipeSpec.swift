/// What one recipe needs and how its products are judged, as configured in
/// an instrument profile:
///
/// ```yaml
/// - name: mbias
///   product: MBIAS
///   inputs: {type: BIAS, min: 3, max: 30, match: [arm, binx, biny, readSpeed]}
///   parameters: {clipSigma: 3.0, clipIterations: 5}
///   qc:
///     readNoiseADU: {min: 1.0, max: 8.0}
/// ```
public struct RecipeSpec: Sendable, Decodable, Equatable {
    public var name: String
    public var product: ProductType
    public var inputs: InputSpec
    /// Calibrations that must exist (from this night or by association) before the recipe can run.
    public var upstream: [ProductType]
    /// Calibrations used when there is one: the recipe waits for one being made
    /// this night for its setup, takes the association engine's choice if any,
    /// and otherwise runs without (the master flat and a night without darks).
    public var optionalUpstream: [ProductType]
    /// `upstream` for the setups a `key=value` names, in place of the plain list — e.g. a
    /// detector without a bias (`"arm=NIR": []`) whose offset goes with lamp-off frames
    /// (`inputs.lampOff`) or a master dark instead of an MBIAS.
    public var upstreamBySetup: [String: [ProductType]]
    /// Numerical parameters by name; each recipe states its defaults and rejects names it does not know.
    public var parameters: [String: Double]
    /// Acceptable range per QC metric; a metric outside its range fails the product.
    public var qc: [String: QCRange]
    /// Orders (physical numbers) left out of per-order QC figures — e.g. orders
    /// whose blaze a model is known not to follow (APERO skips such orders).
    public var qcSkipOrders: [Int]
    /// Wall-clock seconds one attempt may run before its process is stopped
    /// (SIGKILL: workers ignore SIGTERM) and the attempt counted as crashed:
    /// a recipe that hangs must not hold a worker, and with it the night, for ever.
    public var timeLimitSeconds: Double

    /// Half an hour: a 4096² recipe takes seconds here, an archive re-run of a heavy one minutes.
    public static let defaultTimeLimitSeconds: Double = 1800
    /// The range a profile may set (a second to a day).
    public static let timeLimitRange: ClosedRange<Double> = 1...86_400

    enum CodingKeys: String, CodingKey { case name, product, inputs, upstream, optionalUpstream, upstreamBySetup, parameters, qc, qcSkipOrders, timeLimitSeconds }

    public init(name: String, product: ProductType, inputs: InputSpec, upstream: [ProductType] = [],
                optionalUpstream: [ProductType] = [], upstreamBySetup: [String: [ProductType]] = [:],
                parameters: [String: Double] = [:], qc: [String: QCRange] = [:],
                qcSkipOrders: [Int] = [], timeLimitSeconds: Double = RecipeSpec.defaultTimeLimitSeconds) {
        self.name = name; self.product = product; self.inputs = inputs
        self.upstream = upstream; self.optionalUpstream = optionalUpstream; self.upstreamBySetup = upstreamBySetup; self.parameters = parameters; self.qc = qc; self.qcSkipOrders = qcSkipOrders
        self.timeLimitSeconds = timeLimitSeconds
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        product = try c.decode(ProductType.self, forKey: .product)
        inputs = try c.decode(InputSpec.self, forKey: .inputs)
        upstream = try c.decodeIfPresent([ProductType].self, forKey: .upstream) ?? []
        optionalUpstream = try c.decodeIfPresent([ProductType].self, forKey: .optionalUpstream) ?? []
        upstreamBySetup = try c.decodeIfPresent([String: [ProductType]].self, forKey: .upstreamBySetup) ?? [:]
        if let bad = upstreamBySetup.keys.first(where: { SetupScoped.parseScope($0) == nil }) {
            throw DecodingError.dataCorruptedError(forKey: .upstreamBySetup, in: c, debugDescription: "'\(bad)' is not key=value")
        }
        parameters = try c.decodeIfPresent([String: Double].self, forKey: .parameters) ?? [:]
        qc = try c.decodeIfPresent([String: QCRange].self, forKey: .qc) ?? [:]
        qcSkipOrders = try c.decodeIfPresent([Int].self, forKey: .qcSkipOrders) ?? []
        timeLimitSeconds = try c.decodeIfPresent(Double.self, forKey: .timeLimitSeconds) ?? Self.defaultTimeLimitSeconds
    }
}

extension RecipeSpec {
    /// The calibrations that must exist for a job of `setup`: the `upstreamBySetup`
    /// list whose `key=value` the setup has, else `upstream`.
    public func upstream(for setup: Setup) -> [ProductType] {
        for (scope, types) in upstreamBySetup.sorted(by: { $0.key < $1.key }) {
            if let (key, value) = SetupScoped.parseScope(scope), setup[key] == value { return types }
        }
        return upstream
    }

    /// Every type any setup may need (for ordering recipes and naming consumers).
    public var anyUpstream: [ProductType] {
        var all = upstream
        for types in upstreamBySetup.values.sorted(by: { $0.map(\.rawValue).joined() < $1.map(\.rawValue).joined() }) {
            for type in types where !all.contains(type) { all.append(type) }
        }
        return all
    }
}

/// The raw frames a recipe combines.
public struct InputSpec: Sendable, Decodable, Equatable {
    public var type: FrameType
    public var lamp: String?
    public var min: Int
    public var max: Int
    /// Setup names that must agree across the set. Besides the profile's
    /// setup keys, `exptime` and `lamp` may be named.
    public var match: [String]
    /// Two lamps whose flats are combined into one stitched master, for the
    /// setups where the recipe's `stitchOrder` parameter applies (see `LampStitch`).
    public var stitch: LampStitch?
    /// Lamp-off frames taken with the set (same night, matched setup and exposure time):
    /// their combination is subtracted in place of a master bias (`LampOffInputs`).
    public var lampOff: LampOffInputs?

    public init(type: FrameType, lamp: String? = nil, min: Int, max: Int, match: [String], stitch: LampStitch? = nil,
                lampOff: LampOffInputs? = nil) {
        self.type = type; self.lamp = lamp; self.min = min; self.max = max; self.match = match; self.stitch = stitch
        self.lampOff = lampOff
    }
}

/// An acceptable interval for a QC metric; an open end is unbounded.
public struct QCRange: Sendable, Codable, Equatable, CustomStringConvertible {
    public var min: Double?
    public var max: Double?

    public init(min: Double? = nil, max: Double? = nil) { self.min = min; self.max = max }

    /// NaN is never acceptable: a metric that could not be measured fails.
    public func contains(_ value: Double) -> Bool {
        guard !value.isNaN else { return false }
        return (min.map { value >= $0 } ?? true) && (max.map { value <= $0 } ?? true)
    }

    public var description: String {
        "[\(min.map { "\($0)" } ?? "-inf"), \(max.map { "\($0)" } ?? "+inf")]"
    }
}
