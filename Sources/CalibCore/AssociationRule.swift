/// How a calibration of one type is associated with the data that need it,
/// per instrument, from the profile's `association:` section:
///
/// ```yaml
/// association:
///   MBIAS: {match: [arm, binx, biny, readSpeed], time: closest, maxAgeDays: 60}
///   MFLAT: {match: [arm, binx, biny, readSpeed], time: before, maxAgeDays: 30}
/// ```
///
/// Quality levels follow ESO's EDPS: level 0 is the same night, 1 within
/// two weeks, 2 within a month, 3 any time; they are tried in order and the
/// level reached is recorded with the choice.
public struct AssociationRule: Sendable, Codable, Equatable {
    public enum TimePolicy: String, Sendable, Codable {
        /// Nearest in time, before or after.
        case closest
        /// Only calibrations taken before the time asked about.
        case before
        /// Only calibrations taken after it.
        case after
    }

    /// Setup keys that must agree; nil means every key of the request.
    public var match: [String]?
    public var time: TimePolicy
    /// Candidates further than this in time are never used (days).
    public var maxAgeDays: Double?
    /// Upper bounds in days of quality levels 1, 2, …; level 0 is the same night, the last level any time.
    public var levelLimitsDays: [Double]

    public init(match: [String]? = nil, time: TimePolicy = .closest, maxAgeDays: Double? = nil, levelLimitsDays: [Double] = [14, 31]) {
        self.match = match; self.time = time; self.maxAgeDays = maxAgeDays; self.levelLimitsDays = levelLimitsDays
    }

    enum CodingKeys: String, CodingKey { case match, time, maxAgeDays, levelLimitsDays }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        match = try c.decodeIfPresent([String].self, forKey: .match)
        time = try c.decodeIfPresent(TimePolicy.self, forKey: .time) ?? .closest
        maxAgeDays = try c.decodeIfPresent(Double.self, forKey: .maxAgeDays)
        levelLimitsDays = try c.decodeIfPresent([Double].self, forKey: .levelLimitsDays) ?? [14, 31]
        if let maxAgeDays, !(maxAgeDays > 0) {
            throw DecodingError.dataCorruptedError(forKey: .maxAgeDays, in: c, debugDescription: "must be a positive number of days")
        }
        if levelLimitsDays != levelLimitsDays.sorted() || levelLimitsDays.contains(where: { !($0 > 0) }) {
            throw DecodingError.dataCorruptedError(forKey: .levelLimitsDays, in: c, debugDescription: "must be increasing positive day counts")
        }
    }

    /// Human name of a quality level.
    public func levelName(_ level: Int) -> String {
        if level == 0 { return "level 0 (same night)" }
        if level <= levelLimitsDays.count { return "level \(level) (within \(Self.days(levelLimitsDays[level - 1])))" }
        return "level \(level) (any time)"
    }

    static func days(_ d: Double) -> String { d == d.rounded() ? "\(Int(d)) days" : "\(d) days" }
}
