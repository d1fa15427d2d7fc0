import CalibCore
import FITS
import Foundation
import Testing
import Yams

/// Pins that cannot serve the wrong thing, setup completion for `best`, and
/// the configuration key checks — pure functions, no disk or database.
@Suite("Pins, setup completion and configuration keys")
struct PinAndSetupValidationTests {
    let night = ObservingNight("2026-11-21")!
    var mjd: Double { night.startDateMJD + 1.2 }

    func product(_ id: Int64, setup: String, qc: Bool = true, available: Bool = true) -> CalibrationCandidate {
        CalibrationCandidate(id: id, type: .dispersionMap, instrument: "SIMECH", night: night, setup: try! Setup(parsing: setup),
                             mjd: mjd - 0.3, qcPassed: qc, isAvailable: available)
    }

    func request(_ setup: String) -> AssociationRequest {
        AssociationRequest(type: .dispersionMap, instrument: "SIMECH", night: night, setup: try! Setup(parsing: setup), mjd: mjd)
    }

    let rule = AssociationRule(match: ["arm", "binx", "biny"], maxAgeDays: 14)

    @Test("A pin from an old database (no setup) on a BLUE product is never served for RED, and the answer says why")
    func oldPinOfAnotherArm() {
        // Given a QC-failed BLUE product pinned with an empty setup (as pins were before they named one), a good RED product
        let blue = product(9, setup: "arm=BLUE binx=1 biny=1", qc: false)
        let red = product(10, setup: "arm=RED binx=1 biny=1")
        let pin = CalibrationPin(productId: 9, type: .dispersionMap, instrument: "SIMECH", firstNight: night, lastNight: night)
        // When RED asks
        let result = CalibrationAssociation.choose(request("arm=RED binx=1 biny=1"), candidates: [blue, red], rule: rule, pins: [pin])
        // Then the rules choose the RED product and the pin is set aside with the reason
        #expect(result.chosen?.candidate.id == 10)
        #expect(result.basis == .rules)
        #expect(result.explanation.contains("pin of product 9"))
        #expect(result.explanation.contains("arm=BLUE is not the requested arm=RED"))
        #expect(result.explanation.contains("setup matches on arm, binx, biny"))
    }

    @Test("A QC-failed pinned product is served only when the pin was forced, and the force is in the explanation")
    func forcedPins() {
        let failed = product(9, setup: "arm=BLUE binx=1 biny=1", qc: false)
        var pin = CalibrationPin(productId: 9, type: .dispersionMap, instrument: "SIMECH", firstNight: night, lastNight: night,
                                 setup: try! Setup(parsing: "arm=BLUE binx=1 biny=1"), note: "only arc", createdBy: "alice")
        let unforced = CalibrationAssociation.choose(request("arm=BLUE binx=1 biny=1"), candidates: [failed], rule: rule, pins: [pin])
        #expect(unforced.chosen == nil)
        #expect(unforced.explanation.contains("failed QC and the pin was not forced"))
        pin.forced = true
        pin.forcedOver = "product 9 failed QC"
        let forced = CalibrationAssociation.choose(request("arm=BLUE binx=1 biny=1"), candidates: [failed], rule: rule, pins: [pin])
        #expect(forced.chosen?.candidate.id == 9)
        #expect(forced.basis == .pin)
        #expect(forced.explanation.contains("by alice"))
        #expect(forced.explanation.contains("FORCED over: product 9 failed QC: only arc"))
    }

    @Test("A pin naming a key the request leaves open still applies (as the rules leave it unchecked); one naming another value does not")
    func pinCoverage() throws {
        let red = product(10, setup: "arm=RED binx=1 biny=1 readSpeed=100k")
        let pin = CalibrationPin(productId: 10, type: .dispersionMap, instrument: "SIMECH", firstNight: night, lastNight: night,
                                 setup: try Setup(parsing: "arm=RED binx=1 biny=1 readSpeed=100k"))
        // A recipe whose input sets do not match on readSpeed asks without it
        #expect(CalibrationAssociation.choose(request("arm=RED binx=1 biny=1"), candidates: [red], rule: rule, pins: [pin]).basis == .pin)
        #expect(CalibrationAssociation.choose(request("arm=RED binx=1 biny=1 readSpeed=50k"), candidates: [red], rule: rule, pins: [pin]).basis == .rules)
    }

        @Test("A request without match keys says which keys it did not check")
    func uncheckedKeys() {
        let result = CalibrationAssociation.choose(request("arm=RED"), candidates: [product(10, setup: "arm=RED binx=1 biny=1")], rule: rule)
        #expect(result.explanation.contains("setup matches on arm; not checked: binx, biny (not in the request)"))
        let none = CalibrationAssociation.choose(request(""), candidates: [product(10, setup: "arm=RED binx=1 biny=1")], rule: rule)
        #expect(none.explanation.contains("setup not checked"))
        #expect(!none.explanation.hasSuffix("setup matches on "))
    }

    @Test("PinReview: the product's match keys make the pin's setup; another setup is refused outright; QC failure only without force")
    func pinReview() throws {
        let blueFailed = product(9, setup: "arm=BLUE binx=1 biny=1 exptime=5", qc: false)
        let own = PinReview(product: blueFailed, matchKeys: ["arm", "binx", "biny"], given: Setup())
        #expect(own.setup.canonical == "arm=BLUE binx=1 biny=1")
        #expect(own.mismatch == nil)
        #expect(own.forceable == ["product 9 failed QC"])
        let other = PinReview(product: blueFailed, matchKeys: ["arm", "binx", "biny"], given: try Setup(parsing: "arm=RED"))
        #expect(other.mismatch?.contains("arm=BLUE, not arm=RED") == true)
        #expect(other.mismatch?.contains("not even with --force") == true)
        let missing = PinReview(product: product(3, setup: "arm=RED binx=1 biny=1", available: false), matchKeys: ["arm"], given: Setup())
        #expect(missing.forceable == ["product 3's file is missing or quarantined"])
    }

    @Test("SetupCompletion completes keys every candidate agrees on and lists the values of keys they differ on")
    func completion() throws {
        let setups = try ["arm=BLUE binx=1 biny=1", "arm=RED binx=1 biny=1", "arm=RED binx=2 biny=2"].map { try Setup(parsing: $0) }
        let ambiguous = SetupCompletion(request: Setup(), matchKeys: ["arm", "binx", "biny"], available: setups)
        #expect(ambiguous.ambiguous["arm"] == ["BLUE", "RED"])
        #expect(ambiguous.ambiguityDescription == "arm (BLUE, RED), binx (1, 2), biny (1, 2)")
        let blue = SetupCompletion(request: try Setup(parsing: "arm=BLUE"), matchKeys: ["arm", "binx", "biny"], available: setups)
        #expect(blue.ambiguous.isEmpty)
        #expect(blue.setup.canonical == "arm=BLUE binx=1 biny=1")
        #expect(blue.completed.canonical == "binx=1 biny=1")
        let nothing = SetupCompletion(request: try Setup(parsing: "arm=GREEN"), matchKeys: ["arm", "binx"], available: setups)
        #expect(nothing.unknown == ["binx"])
    }

    @Test("Nested configuration keys: every unknown one at any depth, with its path and the nearest valid name")
    func nestedKeys() throws {
        let yaml = """
            instrument: X
            night: {utcOfsetHours: 0}
            recipes:
              - name: mbias
                inputs: {type: BIAS, mn: 3, max: 5, match: []}
                qc: {readNoiseADU: {min: 1, maks: 2}}
            classification:
              - type: BIAS
                when: {all: [{key: A, equal: B}]}
            """
        let node = try #require(try Yams.compose(yaml: yaml))
        let findings = ConfigurationKeySchema.profileFile.unknownKeys(in: node, file: "x.yaml").map(\.description).sorted()
        #expect(findings.count == 4)
        #expect(findings.contains { $0.hasPrefix("x.yaml: night.utcOfsetHours: unknown key; did you mean utcOffsetHours?") })
        #expect(findings.contains { $0.hasPrefix("x.yaml: recipes[0].inputs.mn: unknown key; did you mean min?") })
        #expect(findings.contains { $0.hasPrefix("x.yaml: recipes[0].qc.readNoiseADU.maks: unknown key; did you mean max?") })
        #expect(findings.contains { $0.hasPrefix("x.yaml: classification[0].when.all[0].equal: unknown key; did you mean equals?") })
        let daemon = try #require(try Yams.compose(yaml: "ingest: {stableSecs: 1}\nworkers: 1"))
        #expect(ConfigurationKeySchema.daemonFile.unknownKeys(in: daemon, file: "c.yaml").map(\.description)
                == ["c.yaml: ingest.stableSecs: unknown key; did you mean stableSeconds? (known here: giveUpSeconds, ignore, include, maxDecompressedBytes, reconcileSeconds, settleSeconds, stableSeconds)"])
    }

    @Test("Nearest names: typos and prefixes are suggested, unrelated words are not")
    func nearestNames() {
        #expect(NearestName.suggestion(for: "readNoiseADUU", among: ["readNoiseADU", "biasLevelADU"]) == "readNoiseADU")
        #expect(NearestName.suggestion(for: "readnoise", among: ["readNoiseADU", "biasLevelADU"]) == "readNoiseADU")
        #expect(NearestName.suggestion(for: "stablesecs", among: ["stableSeconds", "settleSeconds"]) == "stableSeconds")
        #expect(NearestName.suggestion(for: "zzz", among: ["stableSeconds", "settleSeconds"]) == nil)
    }

    @Test("A header lacking a setup keyword names it (no silent UNDEFINED)")
    func missingSetupKeyword() throws {
        let profile = try ConfigurationLoader.loadProfile(path: repositoryConfig + "/instruments/simech.yaml")
        var header = FITSHeader()
        header.set("ESO DET BINX", .integer(1))
        header.set("ESO DET BINY", .integer(1))
        header.set("ESO DET READ SPEED", .string("100k"))
        let missing = profile.missingSetupKeywords(in: header)
        #expect(missing.map(\.name) == ["arm"])
        #expect(missing.first?.keywords == ["ESO SEQ ARM"])
    }
}
