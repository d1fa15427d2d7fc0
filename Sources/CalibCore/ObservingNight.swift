import Foundation

/// An observing night, named by the civil date on which it starts
/// (`2026-11-21` is the night from local noon on the 21st to local noon on
/// the 22nd). Nights come from the frame's time, never from directory names.
public struct ObservingNight: Hashable, Comparable, Sendable, Codable, CustomStringConvertible {
    public let year: Int
    public let month: Int
    public let day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year; self.month = month; self.day = day
    }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), (1...31).contains(d), parts[0].count == 4
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public var description: String { String(format: "%04d-%02d-%02d", year, month, day) }

    public static func < (a: ObservingNight, b: ObservingNight) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }

    /// Modified Julian Date of 00:00 UTC on the night's starting date.
    public var startDateMJD: Double {
        // Fliegel & Van Flandern (1968) Julian Day Number, then MJD = JD − 2400000.5.
        let a = (14 - month) / 12
        let y = year + 4800 - a
        let m = month + 12 * a - 3
        let jdn = day + (153 * m + 2) / 5 + 365 * y + y / 4 - y / 100 + y / 400 - 32045
        // JDN counts from noon; 00:00 UTC of the date is JD = JDN − 0.5, so MJD = JDN − 2400001.
        return Double(jdn - 2_400_001)
    }

    /// The night after this one.
    public func adding(days: Int) -> ObservingNight {
        ObservingNight(mjdDate: startDateMJD + Double(days))
    }

    /// The civil date containing MJD `mjd` (UTC).
    ///
    /// Defined for every Double: values outside ±10⁷ days (about ±27,000 years) are clamped
    /// there and NaN reads as MJD 0, since the integer arithmetic below would otherwise trap.
    /// Callers with a header value validate it first (`HeaderValidation.observationMJD`); the
    /// clamp only keeps a missed case from taking the daemon down.
    public init(mjdDate mjd: Double) {
        let safe = mjd.isNaN ? 0 : Swift.min(Swift.max(mjd, -10_000_000), 10_000_000)
        // Inverse of the Julian Day Number formula (Richards, Explanatory Supplement 1992).
        let jdn = Int((safe + 2_400_001).rounded(.down))
        let f = jdn + 1401 + (((4 * jdn + 274_277) / 146_097) * 3) / 4 - 38
        let e = 4 * f + 3
        let g = (e % 1461) / 4
        let h = 5 * g + 2
        let day = (h % 153) / 5 + 1
        let month = ((h / 153 + 2) % 12) + 1
        let year = e / 1461 - 4716 + (12 + 2 - month) / 12
        self.init(year: year, month: month, day: day)
    }
}

/// How a profile turns a frame's time into its observing night: the night
/// changes at local noon, with local time from a fixed UTC offset or, where
/// the site prefers, mean solar time from its longitude.
public struct NightRule: Sendable, Codable, Equatable {
    /// Hours to add to UTC to get local time (e.g. −4 for Chile in winter).
    public var utcOffsetHours: Double?
    /// East-positive site longitude in degrees; local mean solar time = UTC + longitude/15 h.
    public var siteLongitudeDeg: Double?
    /// Local hour at which one night hands over to the next.
    public var changeoverHour: Double = 12

    public init(utcOffsetHours: Double? = nil, siteLongitudeDeg: Double? = nil, changeoverHour: Double = 12) {
        self.utcOffsetHours = utcOffsetHours
        self.siteLongitudeDeg = siteLongitudeDeg
        self.changeoverHour = changeoverHour
    }

    var offsetHours: Double { utcOffsetHours ?? (siteLongitudeDeg.map { $0 / 15 } ?? 0) }

    /// The night of an exposure that started at `mjd` (UTC).
    public func night(forMJD mjd: Double) -> ObservingNight {
        let local = mjd + offsetHours / 24
        return ObservingNight(mjdDate: local - changeoverHour / 24)
    }

    /// The UTC MJD interval of a night.
    public func interval(of night: ObservingNight) -> Range<Double> {
        let start = night.startDateMJD + (changeoverHour - offsetHours) / 24
        return start..<(start + 1)
    }

    enum CodingKeys: String, CodingKey { case utcOffsetHours, siteLongitudeDeg, changeoverHour }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        utcOffsetHours = try c.decodeIfPresent(Double.self, forKey: .utcOffsetHours)
        siteLongitudeDeg = try c.decodeIfPresent(Double.self, forKey: .siteLongitudeDeg)
        changeoverHour = try c.decodeIfPresent(Double.self, forKey: .changeoverHour) ?? 12
    }
}
