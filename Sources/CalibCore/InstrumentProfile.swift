import FITS

/// Everything calibd knows about one instrument, read from
/// `config/instruments/NAME.yaml`: how to recognise its files, how to
/// classify them, what a setup is, how nights fall, and which recipes run on
/// which frames with which QC ranges. No instrument name appears in code.
public struct InstrumentProfile: Sendable {
    /// Short name (`SIMECH`, `XSHOOTER`, `SPIROU`).
    public var name: String
    /// Which files belong to this profile (e.g. `{key: INSTRUME, equals: SIMECH}`).
    public var identify: HeaderCondition
    /// Ordered classification rules; the first that matches wins.
    public var classification: [ClassificationRule]
    /// Logical setup names mapped to the header keywords that may hold them
    /// (the first present wins: X-shooter keeps each arm's slit in another
    /// `ESO INS OPTIn NAME`).
    public var setupKeys: [String: [String]]
    /// Setup keys read through another key's value or with a default (`SetupKeySource`);
    /// `setupKeys` then lists every keyword they may read.
    public var setupSources: [String: SetupKeySource] = [:]
    public var night: NightRule
    /// Header keyword holding the exposure start time as MJD (UTC).
    public var timeKey: String
    /// Header keyword holding the exposure time in seconds.
    public var exposureTimeKey: String
    public var template: TemplateKeys?
    public var detector: DetectorLayout
    /// Recipes, in no particular order; the scheduler orders them by their upstream needs.
    public var recipes: [RecipeSpec]
    /// How each calibration type is associated with the data needing it.
    public var association: [ProductType: AssociationRule] = [:]
    /// The file the profile was read from, for messages.
    public var source: String

    public func recipe(named name: String) -> RecipeSpec? { recipes.first { $0.name == name } }

    /// The configured rule for a type, or the default (all requested setup keys, closest in time, EDPS levels).
    public func associationRule(for type: ProductType) -> AssociationRule { association[type] ?? AssociationRule() }

    /// The middle of a night, the time a night-level question is asked at.
    public func midNightMJD(_ night: ObservingNight) -> Double {
        let interval = self.night.interval(of: night)
        return (interval.lowerBound + interval.upperBound) / 2
    }

    /// Reads the setup of a frame. A key missing from the header reads as
    /// `UNDEFINED` so that such frames only ever group with each other.
    public func setup(of header: FITSHeader) -> Setup {
        var setup = Setup()
        for name in setupKeys.keys {
            setup[name] = value(of: name, in: header)?.replacingOccurrences(of: " ", with: "_") ?? "UNDEFINED"
        }
        return setup
    }

    /// How a frame with this header is turned before reduction (`detector.orientation`).
    public func orientation(of header: FITSHeader) -> FrameOrientation {
        detector.orientation?.value(for: setup(of: header)) ?? .none
    }

    /// The configured light-sensitive columns of a frame with this header
    /// (`detector.scienceColumns`, unbinned), divided by its x binning (`binx`).
    public func scienceColumns(of header: FITSHeader) -> Range<Int>? {
        let setup = setup(of: header)
        guard let window = detector.scienceColumns?.value(for: setup), window.count == 2 else { return nil }
        let binning = max(1, setup["binx"].flatMap { Int($0) } ?? 1)
        return (window[0] / binning)..<(window[1] / binning)
    }

    /// The saturation level of a frame with this header (`detector.saturationADU`), ADU; nil when not configured.
    public func saturationADU(of header: FITSHeader) -> Double? {
        detector.saturationADU?.value(for: setup(of: header))
    }

    /// The configured light-sensitive rows of a frame with this header
    /// (`detector.scienceRows`, unbinned), divided by its y binning (`biny`).
    public func scienceRows(of header: FITSHeader) -> Range<Int>? {
        let setup = setup(of: header)
        guard let window = detector.scienceRows?.value(for: setup), window.count == 2 else { return nil }
        let binning = max(1, setup["biny"].flatMap { Int($0) } ?? 1)
        return (window[0] / binning)..<(window[1] / binning)
    }

    /// The keywords setup key `name` reads for this frame (a selected key's depend on its selector's value).
    func keywords(of name: String, in header: FITSHeader) -> [String] {
        guard let source = setupSources[name] else { return setupKeys[name] ?? [] }
        let selected = source.selector.flatMap { selector in
            setupKeys[selector]?.lazy.compactMap { header.string($0)?.trimmingCharacters(in: .whitespaces) }.first
        }
        return source.keywords(selected: selected)
    }

    private func value(of name: String, in header: FITSHeader) -> String? {
        let read = keywords(of: name, in: header).lazy.compactMap { header.string($0)?.trimmingCharacters(in: .whitespaces) }.first
        return read ?? setupSources[name]?.defaultValue
    }

    /// The setup names none of whose keywords the header holds, with those
    /// keywords, so that ingest can record such a frame as a problem naming
    /// the keyword rather than file it under `arm=UNDEFINED` (a typo in a
    /// profile's setup keyword would otherwise put every frame there).
    public func missingSetupKeywords(in header: FITSHeader) -> [(name: String, keywords: [String])] {
        setupKeys.keys.sorted().filter { setupSources[$0]?.defaultValue == nil }
            .map { name -> (name: String, keywords: [String]) in
                // A key chosen by an arm the profile does not name could have read any of its keywords: name them all.
                let keys = keywords(of: name, in: header)
                return (name: name, keywords: keys.isEmpty ? setupSources[name]?.allKeywords ?? [] : keys)
            }
            .filter { _, keys in keys.allSatisfy { header.string($0) == nil } }
    }
}

/// One line of the classification table.
public struct ClassificationRule: Sendable, Decodable {
    public var type: FrameType
    public var when: HeaderCondition
    /// A fixed lamp label for frames this rule matches (`QTH`, `D2`).
    public var lamp: String?
    /// Or the keyword holding the lamp name.
    public var lampKey: String?
}

/// ESO-style template bookkeeping: frames of one template share its start
/// time, and the template says how many exposures it takes.
public struct TemplateKeys: Sendable, Codable, Equatable {
    public var start: String
    public var count: String
    public var index: String?

    public init(start: String, count: String, index: String? = nil) {
        self.start = start; self.count = count; self.index = index
    }
}

/// Where the light-sensitive area and the overscan lie in a raw frame.
public struct DetectorLayout: Sendable, Codable, Equatable {
    /// Keyword giving the number of overscan columns appended at high x.
    public var overscanColumnsKey: String?
    /// Keyword giving the number of prescan columns at low x.
    public var prescanColumnsKey: String?
    /// Keyword for the gain in e⁻/ADU.
    public var gainKey: String?
    /// Gain used when the header does not give one.
    public var defaultGain: Double?
    /// Saturation level in ADU.
    /// One level, or one per arm (`{by: arm, values: {UVB: 65000, NIR: 2.0e5}}`): a CCD's
    /// 16-bit converter and a Hawaii-2RG's full well differ.
    public var saturationADU: SetupDependent<Double>?
    /// How raw frames are turned before reduction (nil: as read). Pre/overscan
    /// columns are counted in the raw frame, before it is turned.
    public var orientation: SetupDependent<FrameOrientation>?
    /// Light-sensitive columns [start, end) of the turned frame, for detectors
    /// whose headers do not count pre/overscan columns (SOXSPIPE's
    /// `science-pixels`); unbinned, divided by the frame's x binning.
    public var scienceColumns: SetupDependent<[Int]>?
    /// Light-sensitive rows [start, end) of the turned frame (SOXSPIPE's `science-pixels`
    /// rows, e.g. a Hawaii-2RG's reference rows left out); unbinned, divided by the
    /// frame's y binning. Every recipe reads only these rows, so its products and the
    /// static maps' row 0 are the window's first row. nil: every row.
    public var scienceRows: SetupDependent<[Int]>?

    public init(overscanColumnsKey: String? = nil, prescanColumnsKey: String? = nil,
                gainKey: String? = nil, defaultGain: Double? = nil, saturationADU: SetupDependent<Double>? = nil,
                orientation: SetupDependent<FrameOrientation>? = nil, scienceColumns: SetupDependent<[Int]>? = nil,
                scienceRows: SetupDependent<[Int]>? = nil) {
        self.scienceColumns = scienceColumns
        self.scienceRows = scienceRows
        self.orientation = orientation
        self.overscanColumnsKey = overscanColumnsKey
        self.prescanColumnsKey = prescanColumnsKey
        self.gainKey = gainKey
        self.defaultGain = defaultGain
        self.saturationADU = saturationADU
    }
}
