import CalibCore
import Testing

/// The association engine on hand-built candidates: every rule and its explanation.
@Suite("Calibration association rules")
struct CalibrationAssociationTests {
    let night = ObservingNight("2026-11-21")!
    var mjd: Double { night.startDateMJD + 1.2 }

    func product(_ id: Int64, daysFromNight days: Int = 0, hours: Double = 0, setup: String = "arm=RED binx=1",
                 qc: Bool = true, superseded: Int64? = nil, reference: Bool = false, available: Bool = true) -> CalibrationCandidate {
        CalibrationCandidate(id: id, type: .masterFlat, instrument: "SIMECH", night: night.adding(days: days),
                             setup: try! Setup(parsing: setup), mjd: mjd + Double(days) + hours / 24, qcPassed: qc,
                             supersededBy: superseded, isReference: reference, isAvailable: available)
    }

    func request(setup: String = "arm=RED binx=1") -> AssociationRequest {
        AssociationRequest(type: .masterFlat, instrument: "SIMECH", night: night, setup: try! Setup(parsing: setup), mjd: mjd)
    }

    func verdict(_ result: AssociationResult, _ id: Int64) -> String? {
        result.verdicts.first { $0.candidate.id == id }?.rejection
    }

    @Test("Match keys: only the configured keys must agree")
    func matchKeys() {
        let candidates = [product(1, setup: "arm=BLUE binx=1"), product(2, setup: "arm=RED binx=2")]
        let all = CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule())
        #expect(all.chosen == nil)
        #expect(verdict(all, 1) == "setup arm=BLUE does not match arm=RED")
        #expect(verdict(all, 2) == "setup binx=2 does not match binx=1")
        let armOnly = CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule(match: ["arm"]))
        #expect(armOnly.chosen?.candidate.id == 2)
    }

    @Test("Time policies: closest, before-only, after-only (the same night always counts)")
    func timePolicies() {
        let candidates = [product(1, daysFromNight: -3), product(2, daysFromNight: 2)]
        #expect(CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule(time: .closest)).chosen?.candidate.id == 2)
        let before = CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule(time: .before))
        #expect(before.chosen?.candidate.id == 1)
        #expect(verdict(before, 2) == "taken after the data (time policy: before)")
        #expect(CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule(time: .after)).chosen?.candidate.id == 2)
        let sameNightLater = [product(3, hours: 5)]
        #expect(CalibrationAssociation.choose(request(), candidates: sameNightLater, rule: AssociationRule(time: .before)).chosen?.candidate.id == 3)
    }

    @Test("Age limit")
    func ageLimit() {
        let result = CalibrationAssociation.choose(request(), candidates: [product(1, daysFromNight: -40)],
                                                   rule: AssociationRule(maxAgeDays: 30))
        #expect(result.chosen == nil)
        #expect(verdict(result, 1) == "40.0 days away, beyond the 30 days limit")
        #expect(result.explanation.contains("within 30 days"))
    }

    @Test("Quality levels: same night, two weeks, a month, any time — tried in order, the level recorded")
    func levels() {
        let rule = AssociationRule()
        let candidates = [product(1, daysFromNight: -45), product(2, daysFromNight: -20), product(3, daysFromNight: 10)]
        let result = CalibrationAssociation.choose(request(), candidates: candidates, rule: rule)
        #expect(result.chosen?.candidate.id == 3)
        #expect(result.level == 1)
        #expect(verdict(result, 2)?.contains("only level 2 (within 31 days)") == true)
        #expect(CalibrationAssociation.choose(request(), candidates: [product(1, daysFromNight: -45)], rule: rule).level == 3)
        let sameNight = CalibrationAssociation.choose(request(), candidates: candidates + [product(4, hours: -6)], rule: rule)
        #expect(sameNight.chosen?.candidate.id == 4)
        #expect(sameNight.level == 0)
        #expect(sameNight.explanation.contains("level 0 (same night)"))
    }

    @Test("QC failures, superseded and unavailable products are never chosen")
    func exclusions() {
        let candidates = [product(1, qc: false), product(2, superseded: 9), product(3, available: false), product(4, daysFromNight: -5)]
        let result = CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule())
        #expect(result.chosen?.candidate.id == 4)
        #expect(verdict(result, 1) == "failed QC")
        #expect(verdict(result, 2) == "superseded by product 9")
        #expect(verdict(result, 3) == "file missing or quarantined")
    }

    @Test("Reference calibrations are the last fallback, even beyond the age limit")
    func reference() {
        let rule = AssociationRule(maxAgeDays: 10)
        let result = CalibrationAssociation.choose(request(), candidates: [product(1, daysFromNight: -400, reference: true)], rule: rule)
        #expect(result.chosen?.candidate.id == 1)
        #expect(result.basis == .reference)
        let preferNightly = CalibrationAssociation.choose(
            request(), candidates: [product(1, reference: true), product(2, daysFromNight: -2)], rule: rule)
        #expect(preferNightly.chosen?.candidate.id == 2)
        #expect(verdict(preferNightly, 1)?.contains("reference calibration") == true)
    }

    @Test("A pin forces its product for its nights and setup, and says so")
    func pins() {
        let candidates = [product(1), product(2, daysFromNight: -3)]
        let pin = CalibrationPin(productId: 2, type: .masterFlat, instrument: "SIMECH", firstNight: night.adding(days: -1),
                                 lastNight: night.adding(days: 1), setup: try! Setup(parsing: "arm=RED"), note: "lamp swap")
        let pinned = CalibrationAssociation.choose(request(), candidates: candidates, rule: AssociationRule(), pins: [pin])
        #expect(pinned.chosen?.candidate.id == 2)
        #expect(pinned.basis == .pin)
        #expect(pinned.explanation.contains("lamp swap"))
        let otherArm = CalibrationAssociation.choose(request(setup: "arm=BLUE binx=1"), candidates: candidates, rule: AssociationRule(), pins: [pin])
        #expect(otherArm.basis != .pin)
    }

    @Test("Nothing qualifies: the explanation says what would be needed")
    func nothing() {
        let result = CalibrationAssociation.choose(request(), candidates: [], rule: AssociationRule(match: ["arm"], time: .before, maxAgeDays: 7))
        #expect(result.chosen == nil)
        #expect(result.explanation == "no MFLAT product exists; needed: a QC-passed MFLAT of SIMECH with arm=RED within 7 days taken before the data; setup matches on arm")
    }
}
