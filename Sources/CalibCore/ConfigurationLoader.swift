import Foundation
import Glibc
import Yams

/// Reads `calibd.yaml` and the instrument profiles it points at, and checks
/// them before anything runs. Every error names the file and the key.
public enum ConfigurationLoader {
    /// The shape of `calibd.yaml`.
    private struct File: Decodable {
        var watch: [String]?
        var workspace: String?
        var database: String?
        var instruments: String?
        var workers: Int?
        var recipeThreads: Int?
        var ingest: IngestSettings?
        var extraIngestRoots: [String]?
        var controlGroup: String?
        var metrics: MetricsFile?
    }

    /// `metrics:` in `calibd.yaml`.
    private struct MetricsFile: Decodable {
        var textfile: String?
    }

    /// The shape of an instrument profile file.
    private struct ProfileFile: Decodable {
        var instrument: String
        var identify: HeaderCondition
        var night: NightRule
        var timeKey: String?
        var exposureTimeKey: String?
        var setup: [String: SetupKeySource]
        var template: TemplateKeys?
        var detector: DetectorLayout?
        var classification: [ClassificationRule]
        var recipes: [RecipeSpec]?
        var association: [String: AssociationRule]?
    }

    /// Loads a configuration file and every `*.yaml` profile in its instruments directory.
    public static func load(path: String) throws(ConfigurationError) -> CalibdConfiguration {
        let url = URL(fileURLWithPath: path).standardizedFileURL
        let base = url.deletingLastPathComponent().path
        let file: File = try decode(File.self, at: url.path, schema: .daemonFile)
        func resolve(_ p: String) -> String {
            let expanded = (p as NSString).expandingTildeInPath
            return expanded.hasPrefix("/") ? expanded : URL(fileURLWithPath: base).appendingPathComponent(expanded).standardizedFileURL.path
        }
        let workers = file.workers ?? 2
        guard (1...64).contains(workers) else {
            throw ConfigurationError(file: url.path, key: "workers", message: "must be between 1 and 64, got \(workers)")
        }
        if let threads = file.recipeThreads, !(1...256).contains(threads) {
            throw ConfigurationError(file: url.path, key: "recipeThreads",
                                     message: "must be between 1 and 256 threads per recipe, got \(threads) (leave it out for one per core)")
        }
        let ingest = file.ingest ?? IngestSettings()
        for (key, value) in [("stableSeconds", ingest.stableSeconds), ("settleSeconds", ingest.settleSeconds),
                             ("reconcileSeconds", ingest.reconcileSeconds), ("giveUpSeconds", ingest.giveUpSeconds)]
        where !(value >= 0) {
            throw ConfigurationError(file: url.path, key: "ingest.\(key)", message: "must be a non-negative number of seconds")
        }
        if let database = file.database, PostgresLocation.isPostgresURL(database),
           let problem = PostgresDatabaseSetting.problem(database, file: url.path) {
            throw problem
        }
        guard ingest.maxDecompressedBytes >= 2880 else {
            throw ConfigurationError(file: url.path, key: "ingest.maxDecompressedBytes",
                                     message: "must be at least 2880 bytes (one FITS block), got \(ingest.maxDecompressedBytes)")
        }
        let instrumentsDirectory = resolve(file.instruments ?? "instruments")
        let profiles = try loadProfiles(directory: instrumentsDirectory, configFile: url.path)
        if let group = file.controlGroup, getgrnam(group) == nil {
            throw ConfigurationError(file: url.path, key: "controlGroup", message: "no group '\(group)' on this system")
        }
        var configuration = CalibdConfiguration(
            watch: (file.watch ?? []).map(resolve),
            workspace: resolve(file.workspace ?? "workspace"),
            databaseOverride: file.database.map { PostgresLocation.isPostgresURL($0) ? $0 : resolve($0) },
            workers: workers,
            ingest: ingest,
            profiles: profiles,
            source: url.path)
        configuration.extraIngestRoots = (file.extraIngestRoots ?? []).map(resolve)
        configuration.recipeThreads = file.recipeThreads
        configuration.controlGroup = file.controlGroup
        if let textfile = file.metrics?.textfile {
            guard textfile.hasSuffix(".prom") else {
                throw ConfigurationError(file: url.path, key: "metrics.textfile",
                                         message: "node-exporter's textfile collector reads only *.prom files, got '\(textfile)'")
            }
            configuration.metricsTextfile = resolve(textfile)
        }
        return configuration
    }

    /// The profile files a configuration points at (its `instruments`
    /// directory's `*.yaml`), for checks that look at each profile on its own;
    /// empty when the file or directory cannot be read (loading says why).
    public static func profileFiles(configPath: String) -> [String] {
        guard let (_, node) = try? compose(configPath) else { return [] }
        let base = URL(fileURLWithPath: configPath).standardizedFileURL.deletingLastPathComponent().path
        let name = node.mapping?["instruments"]?.string ?? "instruments"
        let expanded = (name as NSString).expandingTildeInPath
        let directory = expanded.hasPrefix("/") ? expanded : (base as NSString).appendingPathComponent(expanded)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [])
            .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        return names.map { (directory as NSString).appendingPathComponent($0) }
    }

    /// Loads every profile in a directory, sorted by file name.
    public static func loadProfiles(directory: String, configFile: String) throws(ConfigurationError) -> [InstrumentProfile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw ConfigurationError(file: configFile, key: "instruments",
                                     message: "cannot read the instrument profile directory \(directory)")
        }
        guard !names.isEmpty else {
            throw ConfigurationError(file: configFile, key: "instruments", message: "no instrument profiles (*.yaml) in \(directory)")
        }
        var profiles: [InstrumentProfile] = []
        for name in names {
            let profile = try loadProfile(path: (directory as NSString).appendingPathComponent(name))
            if let other = profiles.first(where: { $0.name == profile.name }) {
                throw ConfigurationError(file: profile.source, key: "instrument",
                                         message: "instrument '\(profile.name)' is already defined in \(other.source)")
            }
            profiles.append(profile)
        }
        return profiles
    }

    /// Loads and validates one instrument profile. `strictKeys: false` lets
    /// a checker that reports unknown keys itself go on to find everything else.
    public static func loadProfile(path: String, strictKeys: Bool = true) throws(ConfigurationError) -> InstrumentProfile {
        let raw: ProfileFile = try decode(ProfileFile.self, at: path, schema: strictKeys ? .profileFile : .value)
        var association: [ProductType: AssociationRule] = [:]
        for (name, rule) in raw.association ?? [:] {
            guard let type = ProductType(rawValue: name) else {
                throw ConfigurationError(file: path, key: "association.\(name)",
                                         message: "unknown product type (known: \(ProductType.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            association[type] = rule
        }
        var profile = InstrumentProfile(
            name: raw.instrument,
            identify: raw.identify,
            classification: raw.classification,
            setupKeys: raw.setup.mapValues(\.allKeywords),
            night: raw.night,
            timeKey: raw.timeKey ?? "MJD-OBS",
            exposureTimeKey: raw.exposureTimeKey ?? "EXPTIME",
            template: raw.template,
            detector: raw.detector ?? DetectorLayout(),
            recipes: raw.recipes ?? [],
            source: path)
        profile.association = association
        for (key, selector) in [("orientation", profile.detector.orientation?.selector), ("scienceColumns", profile.detector.scienceColumns?.selector),
                                 ("scienceRows", profile.detector.scienceRows?.selector),
                                 ("saturationADU", profile.detector.saturationADU?.selector)]
        where selector != nil && raw.setup[selector!] == nil {
            throw ConfigurationError(file: path, key: "detector.\(key).by",
                                     message: "'\(selector!)' is not a setup key (known: \(raw.setup.keys.sorted().joined(separator: ", ")))")
        }
        for (key, windows) in [("scienceColumns", profile.detector.scienceColumns), ("scienceRows", profile.detector.scienceRows)] {
            if let windows, let bad = ([windows.fixed].compactMap { $0 } + Array(windows.byValue.values))
                .first(where: { $0.count != 2 || $0[0] < 0 || $0[1] <= $0[0] }) {
                throw ConfigurationError(file: path, key: "detector.\(key)", message: "expected [start, end) with 0 <= start < end, got \(bad)")
            }
        }
        profile.setupSources = raw.setup.filter { $0.value.selector != nil || $0.value.defaultValue != nil }
        for (name, source) in profile.setupSources {
            if let selector = source.selector, raw.setup[selector] == nil || raw.setup[selector]?.selector != nil {
                throw ConfigurationError(file: path, key: "setup.\(name).by",
                                         message: "'\(selector)' must be a setup key read directly from the header (known: \(raw.setup.keys.sorted().joined(separator: ", ")))")
            }
        }
        try validate(profile)
        return profile
    }

    static func validate(_ p: InstrumentProfile) throws(ConfigurationError) {
        func fail(_ key: String, _ message: String) -> ConfigurationError {
            ConfigurationError(file: p.source, key: key, message: message)
        }
        guard !p.name.isEmpty, !p.name.contains(where: \.isWhitespace) else {
            throw fail("instrument", "must be a non-empty name without spaces")
        }
        guard !p.classification.isEmpty else { throw fail("classification", "needs at least one rule") }
        if let offset = p.night.utcOffsetHours, !(-14...14).contains(offset) {
            throw fail("night.utcOffsetHours", "must be between -14 and 14 hours")
        }
        if p.night.utcOffsetHours == nil && p.night.siteLongitudeDeg == nil {
            throw fail("night", "needs utcOffsetHours or siteLongitudeDeg to know when the night changes")
        }
        // Values the night computation and the recipes do arithmetic with: finite and meaningful.
        if let longitude = p.night.siteLongitudeDeg, !(-180...180).contains(longitude) {
            throw fail("night.siteLongitudeDeg", "must be between -180 and 180 degrees")
        }
        guard (0...24).contains(p.night.changeoverHour) else { throw fail("night.changeoverHour", "must be between 0 and 24") }
        if let levels = p.detector.saturationADU,
           ([levels.fixed].compactMap { $0 } + Array(levels.byValue.values)).contains(where: { !($0 > 0 && $0.isFinite) }) {
            throw fail("detector.saturationADU", "must be a positive finite number of ADU")
        }
        if let gain = p.detector.defaultGain, !HeaderValidation.gainRange.contains(gain) {
            throw fail("detector.defaultGain", "must be a gain between 0 and \(Int(HeaderValidation.gainRange.upperBound)) e-/ADU")
        }
        var seen: Set<String> = []
        for (i, recipe) in p.recipes.enumerated() {
            let key = "recipes[\(i)]"
            guard seen.insert(recipe.name).inserted else { throw fail("\(key).name", "recipe '\(recipe.name)' is defined twice") }
            guard recipe.inputs.min >= 1 else { throw fail("\(key).inputs.min", "must be at least 1") }
            guard RecipeSpec.timeLimitRange.contains(recipe.timeLimitSeconds) else {
                throw fail("\(key).timeLimitSeconds", "must be between 1 and 86400 seconds, got \(recipe.timeLimitSeconds)")
            }
            guard recipe.inputs.max >= recipe.inputs.min else {
                throw fail("\(key).inputs.max", "must be at least inputs.min (\(recipe.inputs.min))")
            }
            for name in recipe.inputs.match where p.setupKeys[name] == nil && name != "exptime" && name != "lamp" {
                throw fail("\(key).inputs.match", "'\(name)' is not a setup key of \(p.name) (known: \(p.setupKeys.keys.sorted().joined(separator: ", ")), exptime, lamp)")
            }
            let stitchKeys = recipe.parameters.keys.filter { SetupScoped.parse($0).name == LampStitch.orderParameter }
            if let stitch = recipe.inputs.stitch {
                guard stitch.blue != stitch.red else { throw fail("\(key).inputs.stitch", "blue and red lamps are both '\(stitch.blue)'") }
                guard !stitchKeys.isEmpty else {
                    throw fail("\(key).parameters", "inputs.stitch needs a \(LampStitch.orderParameter) parameter (e.g. \"\(LampStitch.orderParameter)[arm=…]\") naming the order where the lamps meet")
                }
            } else if let first = stitchKeys.sorted().first {
                throw fail("\(key).parameters.\(first)", "a stitch order needs inputs.stitch: {blue: <lamp>, red: <lamp>}")
            }
            for (metric, range) in recipe.qc {
                if let lo = range.min, let hi = range.max, lo > hi {
                    throw fail("\(key).qc.\(metric)", "min \(lo) is greater than max \(hi)")
                }
            }
        }
        for (type, rule) in p.association {
            for name in rule.match ?? [] where p.setupKeys[name] == nil {
                throw fail("association.\(type.rawValue).match", "'\(name)' is not a setup key of \(p.name)")
            }
        }
    }

    /// Decodes a YAML file, rejecting keys the schema does not know at any
    /// depth (a misspelt `wokers:` or `ingest.stableSecs:` would otherwise be
    /// silently ignored). The first finding is thrown; `unknownKeys(at:schema:)` lists them all.
    static func decode<T: Decodable>(_ type: T.Type, at path: String, schema: ConfigurationKeySchema) throws(ConfigurationError) -> T {
        let (text, node) = try compose(path)
        if let first = schema.unknownKeys(in: node, file: path).first { throw first }
        do {
            return try YAMLDecoder().decode(T.self, from: text)
        } catch {
            throw ConfigurationError.from(error, file: path)
        }
    }

    /// Every key of the file the schema does not know (empty when none, or
    /// when the file cannot be read: loading reports that).
    public static func unknownKeys(at path: String, schema: ConfigurationKeySchema) -> [ConfigurationError] {
        do {
            let (_, node) = try compose(path)
            return schema.unknownKeys(in: node, file: path)
        } catch {
            return []
        }
    }

    /// The file's text and YAML tree, which must be a mapping at the top.
    static func compose(_ path: String) throws(ConfigurationError) -> (String, Node) {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            // Foundation's own text is "Error Domain=NSCocoaErrorDomain Code=4 …" on Linux: say it in words.
            let why = switch (error as? CocoaError)?.code {
            case .fileReadNoSuchFile?, .fileNoSuchFile?: "no such file"
            case .fileReadNoPermission?: "permission denied"
            case .fileReadInapplicableStringEncoding?, .fileReadCorruptFile?: "not UTF-8 text"
            default: FileManager.default.fileExists(atPath: path) ? "unreadable" : "no such file"
            }
            throw ConfigurationError(file: path, key: "", message: "cannot read the file: \(why)")
        }
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw ConfigurationError(file: path, key: "", message: "not valid YAML: \(error)")
        }
        guard let node, node.mapping != nil else {
            throw ConfigurationError(file: path, key: "", message: "expected a mapping of keys at the top level")
        }
        return (text, node)
    }
}
