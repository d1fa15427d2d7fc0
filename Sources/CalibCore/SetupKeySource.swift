/// Where a profile reads one setup value from, as written under `setup:`:
///
/// - `arm: ESO SEQ ARM` — one keyword;
/// - `slit: [ESO INS OPTI3 NAME, ESO INS OPTI4 NAME]` — the first keyword present;
/// - `slit: {by: arm, keys: {UVB: ESO INS OPTI3 NAME, VIS: ESO INS OPTI4 NAME}}` — the keyword(s)
///   named for the frame's value of another setup key (X-shooter keeps every arm's slit wheel in
///   every header, so "first present" would read the UVB slit for a VIS frame);
/// - `ndit: {keys: [ESO DET NDIT], default: "1"}` — a value for frames without the keyword
///   (CCD frames have no NDIT: one integration), instead of `UNDEFINED` and an ingest problem.
public struct SetupKeySource: Sendable, Equatable, Decodable {
    /// Keywords tried in order when no selector applies.
    public var keywords: [String]
    /// The setup key whose value picks the keywords, and the keywords per value.
    public var selector: String?
    public var keywordsByValue: [String: [String]]
    /// Value for a frame holding none of the keywords.
    public var defaultValue: String?

    public init(keywords: [String], selector: String? = nil, keywordsByValue: [String: [String]] = [:], defaultValue: String? = nil) {
        self.keywords = keywords; self.selector = selector; self.keywordsByValue = keywordsByValue; self.defaultValue = defaultValue
    }

    /// Every keyword this source may read (for messages and checks).
    public var allKeywords: [String] {
        var out = keywords
        for value in keywordsByValue.keys.sorted() { out += keywordsByValue[value]!.filter { !out.contains($0) } }
        return out
    }

    /// The keywords to try for a frame whose selector value is `selected`.
    public func keywords(selected: String?) -> [String] {
        if let selected, let picked = keywordsByValue[selected] { return picked }
        return keywords
    }

    private enum CodingKeys: String, CodingKey { case keys, by, `default` }

    private struct Many: Decodable {
        var values: [String]
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
            guard !values.isEmpty else { throw DecodingError.dataCorruptedError(in: c, debugDescription: "needs at least one keyword") }
        }
    }

    public init(from decoder: any Decoder) throws {
        if let plain = try? Many(from: decoder) {
            self.init(keywords: plain.values)
            return
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let selector = try c.decodeIfPresent(String.self, forKey: .by)
        var byValue: [String: [String]] = [:]
        var keywords: [String] = []
        if selector != nil {
            byValue = try c.decode([String: Many].self, forKey: .keys).mapValues(\.values)
        } else {
            keywords = try c.decode(Many.self, forKey: .keys).values
        }
        self.init(keywords: keywords, selector: selector, keywordsByValue: byValue,
                  defaultValue: try c.decodeIfPresent(String.self, forKey: .default))
    }
}
