import FITS
import Foundation

/// A header value calibd cannot use, said so that a person can act on it:
/// `MJD-OBS = 1e+300 is not a date between 1950 and 2100`.
public struct HeaderValueProblem: Error, Sendable, Equatable, CustomStringConvertible {
    /// The keyword at fault (for messages and tests).
    public let keyword: String
    public let description: String

    public init(keyword: String, description: String) {
        self.keyword = keyword; self.description = description
    }

    /// `KEY = value what-is-wrong`, the value shown as found (strings quoted, long ones cut).
    static func value(_ keyword: String, _ value: HeaderValue, _ expectation: String) -> HeaderValueProblem {
        HeaderValueProblem(keyword: keyword, description: "\(keyword) = \(HeaderValidation.shown(value)) \(expectation)")
    }
}

/// Every header value calibd turns into arithmetic, checked as a value first: present where
/// needed, of the right type, finite, in a range that means something. A frame whose header
/// fails is recorded as a problem naming the keyword and its value; the recipes check the
/// values they read again (a file can change after ingest), so no header can make the
/// daemon trap on an overflow, a NaN converted to an integer or a negative count.
///
/// The ranges are deliberately wide: they refuse what cannot be right, not what is unusual.
public enum HeaderValidation {
    /// 1950-01-01 and 2100-01-01 as MJD: no digital spectrograph frame lies outside.
    public static let mjdRange: ClosedRange<Double> = 33282...88069
    /// Exposure times, seconds: up to 10⁶ s (11.6 days), far beyond any single exposure.
    public static let exposureRange: ClosedRange<Double> = 0...1_000_000
    /// Gains, e⁻/ADU: positive, at most 1000.
    public static let gainRange: ClosedRange<Double> = 0.000_001...1000
    /// Binning factors.
    public static let binningRange: ClosedRange<Int> = 1...64
    /// Exposures per template.
    public static let templateCountRange: ClosedRange<Int64> = 1...10_000
    /// Setup names read as binning factors.
    public static let binningSetupNames = ["binx", "biny"]

    /// The exposure start (MJD, UTC) from `timeKey`, else from an ISO-8601 `DATE-OBS`.
    public static func observationMJD(_ header: FITSHeader, timeKey: String) -> Result<Double, HeaderValueProblem> {
        if let value = header[timeKey], value != .undefined {
            guard let mjd = number(value) else {
                return .failure(.value(timeKey, value, "is not a number (an MJD is expected)"))
            }
            guard mjdRange.contains(mjd) else {
                return .failure(.value(timeKey, value, "is not a date between 1950 and 2100 (MJD \(Int(mjdRange.lowerBound))–\(Int(mjdRange.upperBound)))"))
            }
            return .success(mjd)
        }
        guard let value = header["DATE-OBS"], value != .undefined else {
            return .failure(HeaderValueProblem(keyword: timeKey, description:
                "missing keyword \(timeKey) (and no usable DATE-OBS): the observing night cannot be derived"))
        }
        guard let text = value.stringValue, let mjd = mjd(fromISO: text) else {
            return .failure(.value("DATE-OBS", value, "is not an ISO-8601 date (YYYY-MM-DD[Thh:mm:ss[.s]]), and \(timeKey) is missing"))
        }
        guard mjdRange.contains(mjd) else {
            return .failure(.value("DATE-OBS", value, "is not a date between 1950 and 2100"))
        }
        return .success(mjd)
    }

    /// The exposure time, seconds.
    public static func exposureTime(_ header: FITSHeader, key: String) -> Result<Double, HeaderValueProblem> {
        guard let value = header[key], value != .undefined else {
            return .failure(HeaderValueProblem(keyword: key, description: "missing keyword \(key) (exposure time)"))
        }
        guard let seconds = number(value) else {
            return .failure(.value(key, value, "is not a number (exposure time in seconds)"))
        }
        guard exposureRange.contains(seconds) else {
            return .failure(.value(key, value, "is not an exposure time between 0 and \(Int(exposureRange.upperBound)) s"))
        }
        return .success(seconds)
    }

    /// The number of exposures a template takes, nil when the keyword is absent.
    public static func templateCount(_ header: FITSHeader, key: String) -> Result<Int?, HeaderValueProblem> {
        guard let value = header[key], value != .undefined else { return .success(nil) }
        guard let count = integer(value) else { return .failure(.value(key, value, "is not an integer (exposures in the template)")) }
        guard templateCountRange.contains(count) else {
            return .failure(.value(key, value, "is not a number of exposures between 1 and \(templateCountRange.upperBound)"))
        }
        return .success(Int(count))
    }

    /// The binning factor a setup value names (`binx`, `biny`): an integer 1…64, or nil when the
    /// frame does not say (`UNDEFINED`), which the recipes read as 1.
    public static func binning(_ header: FITSHeader, profile: InstrumentProfile, name: String) -> Result<Int?, HeaderValueProblem> {
        guard let keys = profile.setupKeys[name],
              let key = keys.first(where: { header[$0] != nil && header[$0] != .undefined }),
              let value = header[key] else { return .success(nil) }
        guard let factor = integer(value) ?? value.stringValue.flatMap({ Int64($0.trimmingCharacters(in: .whitespaces)) }) else {
            return .failure(.value(key, value, "is not an integer binning factor"))
        }
        guard factor >= Int64(binningRange.lowerBound), factor <= Int64(binningRange.upperBound) else {
            return .failure(.value(key, value, "is not a binning factor between \(binningRange.lowerBound) and \(binningRange.upperBound)"))
        }
        return .success(Int(factor))
    }

    /// The gain, e⁻/ADU: the header's when the profile names a keyword and the header has it,
    /// else the profile's default, else NaN (unknown; recipes then report in ADU).
    public static func gain(_ header: FITSHeader, layout: DetectorLayout) -> Result<Double, HeaderValueProblem> {
        if let key = layout.gainKey, let value = header[key], value != .undefined {
            guard let gain = number(value), gainRange.contains(gain) else {
                return .failure(.value(key, value, "is not a gain between 0 and \(Int(gainRange.upperBound)) e-/ADU"))
            }
            return .success(gain)
        }
        return .success(layout.defaultGain ?? .nan)
    }

    /// The image axes a header states (NAXIS, NAXISn), each checked, with an overflow-checked
    /// pixel count no larger than `maxPixels`; [] for no data.
    public static func imageShape(_ header: FITSHeader, maxPixels: Int64 = 1 << 40) -> Result<[Int], HeaderValueProblem> {
        if let value = header["BITPIX"] {
            guard let bitpix = integer(value), [8, 16, 32, 64, -32, -64].contains(bitpix) else {
                return .failure(.value("BITPIX", value, "is not one of 8, 16, 32, 64, -32, -64"))
            }
        }
        guard let value = header["NAXIS"] else { return .success([]) }
        guard let axes = integer(value), (0...999).contains(axes) else {
            return .failure(.value("NAXIS", value, "is not a number of axes between 0 and 999"))
        }
        var shape: [Int] = []
        var pixels: Int64 = axes == 0 ? 0 : 1
        for n in stride(from: 1, through: axes, by: 1) {
            let key = "NAXIS\(n)"
            guard let axis = header[key] else { return .failure(HeaderValueProblem(keyword: key, description: "missing keyword \(key)")) }
            guard let length = integer(axis), length >= 0 else {
                return .failure(.value(key, axis, "is not a non-negative axis length"))
            }
            let (product, overflow) = pixels.multipliedReportingOverflow(by: length)
            guard !overflow, product <= maxPixels else {
                return .failure(.value(key, axis, "makes the image larger than \(maxPixels) pixels"))
            }
            pixels = product
            shape.append(Int(length))
        }
        return .success(shape)
    }

    /// A number from a real or integer card; strings, logicals and non-finite reals are not.
    static func number(_ value: HeaderValue) -> Double? {
        switch value {
        case .real(let x): x.isFinite ? x : nil
        case .integer(let n): Double(n)
        default: nil
        }
    }

    /// An integer from an integer card, or a real card holding an exact integer.
    static func integer(_ value: HeaderValue) -> Int64? {
        switch value {
        case .integer(let n): n
        case .real(let x): x.isFinite ? Int64(exactly: x) : nil
        default: nil
        }
    }

    /// A value as it would be read in the header, cut to 40 characters.
    static func shown(_ value: HeaderValue) -> String {
        let text: String
        switch value {
        case .string(let s): text = "'\(s)'"
        case .real(let x): text = "\(x)"
        case .integer(let n): text = "\(n)"
        case .logical(let b): text = b ? "T" : "F"
        case .undefined: text = "(no value)"
        }
        return text.count > 40 ? String(text.prefix(37)) + "..." : text
    }

    /// MJD from an ISO-8601 date (`2026-11-21` or `2026-11-21T23:59:59.123`), nil unless every
    /// field is a number in its range (hours 0–23, minutes 0–59, seconds 0–60.999…).
    public static func mjd(fromISO text: String) -> Double? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: "T", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let date = ObservingNight(String(parts[0])) else { return nil }
        var fraction = 0.0
        if parts.count == 2 {
            let hms = parts[1].split(separator: ":", omittingEmptySubsequences: false)
            guard hms.count == 3, let h = Int(hms[0]), let m = Int(hms[1]), let s = Double(hms[2]),
                  (0...23).contains(h), (0...59).contains(m), s >= 0, s < 61 else { return nil }
            fraction = (Double(h) * 3600 + Double(m) * 60 + s) / 86400
        }
        return date.startDateMJD + fraction
    }
}
