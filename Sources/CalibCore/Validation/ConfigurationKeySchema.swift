import Yams

/// The keys a configuration file may hold, at every depth, so that a typo in
/// a nested key (`ingest.stableSecs`, `recipes[2].inputs.mn`) is refused with
/// the key path and the nearest valid name instead of being silently ignored
/// (Swift's `Decodable` skips keys it does not know).
///
/// Only the *names* are checked here; values are the decoders' business.
public indirect enum ConfigurationKeySchema: Sendable {
    /// A mapping whose keys are fixed.
    case fields([String: ConfigurationKeySchema])
    /// A mapping whose keys are free (setup names, parameters, product types), each value of one shape.
    case entries(ConfigurationKeySchema)
    /// A list whose items have one shape.
    case list(ConfigurationKeySchema)
    /// A header condition (`all`/`any`/`not`/key tests), recursive.
    case condition
    /// Anything: a scalar or a structure checked elsewhere.
    case value

    /// `calibd.yaml`.
    /// `database:` is an SQLite file path, or a `postgresql://` URL (`PostgresLocation`), which is
    /// validated when the file loads (`PostgresDatabaseSetting`) and opened by `RegistryOpener`.
    public static let daemonFile: ConfigurationKeySchema = .fields([
        "watch": .value, "workspace": .value, "database": .value, "instruments": .value, "workers": .value,
        "recipeThreads": .value,
        "extraIngestRoots": .value, "controlGroup": .value, "metrics": .fields(["textfile": .value]),
        "ingest": .fields(["stableSeconds": .value, "settleSeconds": .value, "reconcileSeconds": .value,
                           "giveUpSeconds": .value, "maxDecompressedBytes": .value, "ignore": .value, "include": .value]),
    ])

    /// An instrument profile (`instruments/*.yaml`).
    public static let profileFile: ConfigurationKeySchema = .fields([
        "instrument": .value, "description": .value, "identify": .condition,
        "night": .fields(["utcOffsetHours": .value, "siteLongitudeDeg": .value, "changeoverHour": .value]),
        "timeKey": .value, "exposureTimeKey": .value,
        "setup": .entries(.value),
        "template": .fields(["start": .value, "count": .value, "index": .value]),
        "detector": .fields(["overscanColumnsKey": .value, "prescanColumnsKey": .value, "gainKey": .value,
                             "defaultGain": .value, "saturationADU": .value, "orientation": .value,
                             "scienceColumns": .value, "scienceRows": .value]),
        "classification": .list(.fields(["type": .value, "when": .condition, "lamp": .value, "lampKey": .value])),
        "recipes": .list(.fields([
            "name": .value, "product": .value,
            "inputs": .fields(["type": .value, "lamp": .value, "min": .value, "max": .value, "match": .value,
                               "stitch": .fields(["blue": .value, "red": .value]),
                               "lampOff": .fields(["type": .value, "lamp": .value, "min": .value, "max": .value, "setup": .value,
                                                   "match": .value])]),
            "upstream": .value, "optionalUpstream": .value, "upstreamBySetup": .entries(.value),
            // Parameter names are checked against the recipe's executor, which knows them.
            "parameters": .entries(.value),
            "qc": .entries(.fields(["min": .value, "max": .value])),
            "qcSkipOrders": .value, "timeLimitSeconds": .value,
        ])),
        "association": .entries(.fields(["match": .value, "time": .value, "maxAgeDays": .value, "levelLimitsDays": .value])),
    ])

    /// The keys of a header condition (see `HeaderCondition`'s decoder).
    static let conditionKeys: [String] = ["all", "any", "not", "key", "equals", "in", "matches", "regex", "range", "min", "max", "present"]

    /// Every key of `node` (and below) this schema does not know, as
    /// findings naming `file`, the key path and the nearest valid name.
    public func unknownKeys(in node: Node, file: String, path: String = "") -> [ConfigurationError] {
        switch self {
        case .value:
            return []
        case .list(let item):
            guard let sequence = node.sequence else { return [] }
            return sequence.enumerated().flatMap { index, child in item.unknownKeys(in: child, file: file, path: "\(path)[\(index)]") }
        case .entries(let item):
            guard let mapping = node.mapping else { return [] }
            return mapping.flatMap { key, child in item.unknownKeys(in: child, file: file, path: Self.join(path, key.string ?? "?")) }
        case .fields(let fields):
            guard let mapping = node.mapping else { return [] }
            return mapping.flatMap { key, child -> [ConfigurationError] in
                let name = key.string ?? "?"
                guard let schema = fields[name] else { return [Self.unknown(name, known: Array(fields.keys), file: file, path: path)] }
                return schema.unknownKeys(in: child, file: file, path: Self.join(path, name))
            }
        case .condition:
            if let sequence = node.sequence {
                return sequence.enumerated().flatMap { index, child in Self.condition.unknownKeys(in: child, file: file, path: "\(path)[\(index)]") }
            }
            guard let mapping = node.mapping else { return [] }
            return mapping.flatMap { key, child -> [ConfigurationError] in
                let name = key.string ?? "?"
                switch name {
                case "all", "any": return Self.list(.condition).unknownKeys(in: child, file: file, path: Self.join(path, name))
                case "not": return Self.condition.unknownKeys(in: child, file: file, path: Self.join(path, name))
                case _ where Self.conditionKeys.contains(name): return []
                default: return [Self.unknown(name, known: Self.conditionKeys, file: file, path: path)]
                }
            }
        }
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : "\(path).\(key)" }

    static func unknown(_ name: String, known: [String], file: String, path: String) -> ConfigurationError {
        let suggestion = NearestName.suggestion(for: name, among: known).map { "did you mean \($0)? " } ?? ""
        return ConfigurationError(file: file, key: join(path, name),
                                  message: "unknown key; \(suggestion)(known here: \(known.sorted().joined(separator: ", ")))")
    }
}
