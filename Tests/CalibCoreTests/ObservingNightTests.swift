import CalibCore
import Testing

@Suite("Observing nights come from the frame's time")
struct ObservingNightTests {
    @Test("MJD and calendar dates round-trip")
    func mjdRoundTrip() {
        // MJD 0 is 1858-11-17; MJD 51544 is 2000-01-01; MJD 61000 is 2025-11-21.
        #expect(ObservingNight(mjdDate: 0.5) == ObservingNight(year: 1858, month: 11, day: 17))
        #expect(ObservingNight(mjdDate: 51544.0) == ObservingNight(year: 2000, month: 1, day: 1))
        #expect(ObservingNight(year: 2000, month: 1, day: 1).startDateMJD == 51544)
        #expect(ObservingNight(year: 2025, month: 11, day: 21).startDateMJD == 61000)
        for mjd in stride(from: 50000.0, to: 62000, by: 97) {
            #expect(ObservingNight(mjdDate: mjd).startDateMJD == mjd)
        }
    }

    @Test("Given a site at longitude −70.73°, frames before local noon belong to the previous night")
    func noonToNoon() {
        let rule = NightRule(siteLongitudeDeg: -70.73)
        let date = ObservingNight("2026-11-21")!.startDateMJD
        // Local mean solar time = UTC − 4.715 h, so local noon is 16:43 UTC.
        #expect(rule.night(forMJD: date + 16.0 / 24).description == "2026-11-20")
        #expect(rule.night(forMJD: date + 17.0 / 24).description == "2026-11-21")
        #expect(rule.night(forMJD: date + 1 + 3.0 / 24).description == "2026-11-21")  // 03 UTC next day, still that night
        let interval = rule.interval(of: ObservingNight("2026-11-21")!)
        #expect(abs(interval.lowerBound - (date + (12 + 4.715_333) / 24)) < 1e-6)
    }

    @Test("A fixed UTC offset works the same way")
    func utcOffset() {
        let rule = NightRule(utcOffsetHours: 10)  // e.g. Siding Spring
        let date = ObservingNight("2026-01-10")!.startDateMJD
        #expect(rule.night(forMJD: date + 1.0 / 24).description == "2026-01-09")  // 11:00 local
        #expect(rule.night(forMJD: date + 3.0 / 24).description == "2026-01-10")  // 13:00 local
    }

    @Test("Bad night strings are rejected")
    func parse() {
        #expect(ObservingNight("2026-13-01") == nil)
        #expect(ObservingNight("26-11-01") == nil)
        #expect(ObservingNight("tonight") == nil)
        #expect(ObservingNight("2026-11-21")?.description == "2026-11-21")
    }
}
