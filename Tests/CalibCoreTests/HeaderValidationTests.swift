import CalibCore
import FITS
import Foundation
import Testing

/// Every header value that once trapped the daemon (issue #18's hostile-input probe) becomes a
/// problem naming the keyword and the value.
@Suite("Header values are validated before use")
struct HeaderValidationTests {
    static let profile: InstrumentProfile = {
        try! ConfigurationLoader.load(path: repositoryConfig + "/calibd.yaml").profiles.first { $0.name == "SIMECH" }!
    }()

    /// A usable SIMECH bias header, 256 columns wide with 16 overscan columns.
    func biasHeader(_ changes: [(String, HeaderValue)] = [], removing: [String] = []) -> FITSHeader {
        var header = makeHeader([
            ("SIMPLE", .logical(true)), ("BITPIX", .integer(16)), ("NAXIS", .integer(2)), ("NAXIS1", .integer(256)), ("NAXIS2", .integer(256)),
            ("INSTRUME", .string("SIMECH")), ("ESO DPR CATG", .string("CALIB")), ("ESO DPR TYPE", .string("BIAS")),
            ("ESO DPR TECH", .string("IMAGE")), ("ESO SEQ ARM", .string("RED")), ("ESO DET BINX", .integer(1)), ("ESO DET BINY", .integer(1)),
            ("ESO DET READ SPEED", .string("100k/1pt/hg")), ("ESO DET OUT1 OVSCX", .integer(16)), ("ESO DET OUT1 PRSCX", .integer(0)),
            ("ESO DET OUT1 GAIN", .real(1.2)), ("MJD-OBS", .real(61365.9)), ("EXPTIME", .real(0)),
            ("ESO TPL START", .string("2026-11-21T20:00:00")), ("ESO TPL NEXP", .integer(5)),
        ])
        header.cards.removeAll { removing.contains($0.key) }
        for (key, value) in changes { header.set(key, value) }
        return header
    }

    @Test("A valid header gives a usable verdict with night, setup, exposure and template count")
    func valid() {
        let verdict = FrameHeaderExamination(header: biasHeader(), profile: Self.profile)
        #expect(verdict.problem == nil)
        #expect(verdict.type == .bias)
        #expect(verdict.night?.description == "2026-11-21")
        #expect(verdict.exposureTime == 0)
        #expect(verdict.templateCount == 5)
    }

    @Test("Each trap of the probe is a problem naming the keyword and its value", arguments: [
        ("MJD-OBS", HeaderValue.real(1e300), "MJD-OBS = 1e+300 is not a date between 1950 and 2100"),
        ("MJD-OBS", .real(-1e300), "MJD-OBS = -1e+300"),
        ("MJD-OBS", .string("tomorrow"), "MJD-OBS = 'tomorrow' is not a number"),
        ("MJD-OBS", .integer(Int64.max), "is not a date between 1950 and 2100"),
        ("EXPTIME", .real(.nan), "EXPTIME = nan is not a number"),
        ("EXPTIME", .real(.infinity), "EXPTIME = inf is not a number"),
        ("EXPTIME", .real(-3), "EXPTIME = -3.0 is not an exposure time between 0 and"),
        ("EXPTIME", .real(1e300), "EXPTIME = 1e+300 is not an exposure time"),
        ("ESO DET OUT1 OVSCX", .integer(-16), "ESO DET OUT1 OVSCX = -16 is not a number of columns between 0 and 255"),
        ("ESO DET OUT1 PRSCX", .integer(-1), "ESO DET OUT1 PRSCX = -1"),
        ("ESO DET OUT1 OVSCX", .integer(Int64.max), "ESO DET OUT1 OVSCX = 9223372036854775807"),
        ("ESO DET OUT1 PRSCX", .integer(240), "= 240 + 16 columns leave none of the 256 columns light-sensitive"),
        ("ESO DET OUT1 OVSCX", .real(2.5), "ESO DET OUT1 OVSCX = 2.5 is not an integer number of columns"),
        ("ESO DET OUT1 GAIN", .real(0), "ESO DET OUT1 GAIN = 0.0 is not a gain"),
        ("ESO DET OUT1 GAIN", .real(.nan), "ESO DET OUT1 GAIN = nan"),
        ("ESO DET BINX", .integer(0), "ESO DET BINX = 0 is not a binning factor between 1 and 64"),
        ("ESO DET BINY", .integer(-4), "ESO DET BINY = -4"),
        ("ESO DET BINX", .string("two"), "ESO DET BINX = 'two' is not an integer binning factor"),
        ("ESO TPL NEXP", .integer(-1), "ESO TPL NEXP = -1 is not a number of exposures"),
        ("ESO TPL NEXP", .integer(Int64.max), "ESO TPL NEXP = 9223372036854775807"),
        ("NAXIS1", .integer(-5), "NAXIS1 = -5 is not a non-negative axis length"),
        ("NAXIS2", .integer(1 << 40), "NAXIS2 = 1099511627776 makes the image larger than"),
        ("NAXIS", .integer(1000), "NAXIS = 1000 is not a number of axes"),
        ("BITPIX", .integer(17), "BITPIX = 17 is not one of"),
    ])
    func traps(key: String, value: HeaderValue, reason: String) {
        let verdict = FrameHeaderExamination(header: biasHeader([(key, value)]), profile: Self.profile)
        #expect(verdict.problem?.contains(reason) == true, "\(key): \(verdict.problem ?? "usable")")
        #expect(verdict.night == nil)
    }

    @Test("DATE-OBS stands in for a missing MJD-OBS only when it is a real date in range")
    func dateObs() {
        let good = FrameHeaderExamination(header: biasHeader([("DATE-OBS", .string("2026-11-21T21:36:00"))], removing: ["MJD-OBS"]),
                                          profile: Self.profile)
        #expect(good.problem == nil)
        #expect(abs((good.mjd ?? 0) - 61365.9) < 1e-6)
        for text in ["9999-12-31T00:00:00", "2026-11-21T25:00:00", "2026-11-21T12:00:1e308", "2026-13-01", "yesterday"] {
            let verdict = FrameHeaderExamination(header: biasHeader([("DATE-OBS", .string(text))], removing: ["MJD-OBS"]), profile: Self.profile)
            #expect(verdict.problem?.contains("DATE-OBS = '\(text)'") == true, "\(text): \(verdict.problem ?? "usable")")
        }
        let none = FrameHeaderExamination(header: biasHeader(removing: ["MJD-OBS"]), profile: Self.profile)
        #expect(none.problem?.contains("missing keyword MJD-OBS") == true)
    }

    @Test("Detector windows split a row into prescan, light-sensitive columns and overscan")
    func windows() throws {
        let layout = Self.profile.detector
        let windows = try DetectorWindows.read(biasHeader([("ESO DET OUT1 PRSCX", .integer(4))]), layout: layout, width: 256).get()
        #expect(windows.science == 4..<240)
        #expect(windows.overscanColumns == 240..<256)
        let none = try DetectorWindows.read(biasHeader([("ESO DET OUT1 OVSCX", .integer(0))]), layout: layout, width: 256).get()
        #expect(none.overscanColumns == nil && none.science == 0..<256)
        #expect((try? DetectorWindows.read(biasHeader(), layout: layout, width: 0).get()) == nil)
    }

    @Test("The night computation is defined for every Double, however absurd")
    func nightNeverTraps() {
        for mjd in [Double.nan, .infinity, -.infinity, 1e300, -1e300, Double(Int.max)] {
            _ = ObservingNight(mjdDate: mjd)
            _ = Self.profile.night.night(forMJD: mjd)
        }
        #expect(ObservingNight(mjdDate: 61365.9).description == "2026-11-21")
    }
}
