/// A calibration product as the association engine sees it.
public struct CalibrationCandidate: Sendable, Codable, Equatable {
    public var id: Int64
    public var type: ProductType
    public var instrument: String
    public var night: ObservingNight
    public var setup: Setup
    /// The product's time: mean MJD of its inputs.
    public var mjd: Double
    public var qcPassed: Bool
    public var supersededBy: Int64?
    /// Promoted by a person or shipped static: the last fallback.
    public var isReference: Bool
    /// False when the file is missing or quarantined.
    public var isAvailable: Bool

    public init(id: Int64, type: ProductType, instrument: String, night: ObservingNight, setup: Setup, mjd: Double,
                qcPassed: Bool, supersededBy: Int64? = nil, isReference: Bool = false, isAvailable: Bool = true) {
        self.id = id; self.type = type; self.instrument = instrument; self.night = night; self.setup = setup; self.mjd = mjd
        self.qcPassed = qcPassed; self.supersededBy = supersededBy; self.isReference = isReference; self.isAvailable = isAvailable
    }
}

/// A person's decision that overrides the rules: use this product for these nights.
public struct CalibrationPin: Sendable, Codable, Equatable {
    public var productId: Int64
    public var type: ProductType
    public var instrument: String
    public var firstNight: ObservingNight
    public var lastNight: ObservingNight
    /// Setup terms the request must satisfy for the pin to apply: the rule's
    /// match keys, from the product unless a person named them (empty only in
    /// pins made before pins named their setup; the engine then still checks
    /// the product's own setup against the request's).
    public var setup: Setup
    /// Why, in the person's words; for a forced pin, why the refusal was overridden.
    public var note: String
    /// True when a person pinned over a refusal with `--force` (a QC-failed or
    /// missing product); only a forced pin may serve a QC-failed product.
    public var forced: Bool
    /// The refusal that was overridden ("failed QC"), nil when not forced.
    public var forcedOver: String?
    /// Who pinned, for whoever asks later ("" when unknown).
    public var createdBy: String

    public init(productId: Int64, type: ProductType, instrument: String, firstNight: ObservingNight, lastNight: ObservingNight,
                setup: Setup = Setup(), note: String = "", forced: Bool = false, forcedOver: String? = nil, createdBy: String = "") {
        self.productId = productId; self.type = type; self.instrument = instrument
        self.firstNight = firstNight; self.lastNight = lastNight; self.setup = setup; self.note = note
        self.forced = forced; self.forcedOver = forcedOver; self.createdBy = createdBy
    }

    /// `pin by alice, FORCED over failed QC: lamp replaced`
    public var provenance: String {
        var text = "pinned" + (createdBy.isEmpty ? "" : " by \(createdBy)") + " for \(firstNight)…\(lastNight)"
        if forced { text += ", FORCED over: \(forcedOver ?? "a refusal")" }
        return text + (note.isEmpty ? "" : ": \(note)")
    }
}

/// "Which calibration of type T for this night, setup and time?"
public struct AssociationRequest: Sendable, Equatable {
    public var type: ProductType
    public var instrument: String
    public var night: ObservingNight
    public var setup: Setup
    /// The time of the data needing the calibration (MJD, UTC).
    public var mjd: Double

    public init(type: ProductType, instrument: String, night: ObservingNight, setup: Setup, mjd: Double) {
        self.type = type; self.instrument = instrument; self.night = night; self.setup = setup; self.mjd = mjd
    }
}

/// One candidate's verdict.
public struct CandidateVerdict: Sendable, Codable, Equatable {
    public var candidate: CalibrationCandidate
    /// Candidate time minus request time, days.
    public var deltaDays: Double
    /// The quality level it would reach (nil when rejected outright).
    public var level: Int?
    /// Why it was not chosen (nil for the chosen one).
    public var rejection: String?
}

/// The engine's answer: the choice, how it was reached, and every candidate's verdict.
public struct AssociationResult: Sendable, Codable, Equatable {
    public enum Basis: String, Sendable, Codable { case pin, rules, reference, none }
    public var chosen: CandidateVerdict?
    public var basis: Basis
    public var level: Int?
    public var verdicts: [CandidateVerdict]
    /// Why the chosen one won, or what would be needed when nothing qualifies.
    public var explanation: String
}

/// The one association engine: recipes (for their upstream calibrations)
/// and `calibctl best` both ask it, so they always agree. A pure function
/// of the request, the candidates, the rule and the pins.
public enum CalibrationAssociation {
    public static func choose(_ request: AssociationRequest, candidates: [CalibrationCandidate], rule: AssociationRule,
                              pins: [CalibrationPin] = []) -> AssociationResult {
        // The rule's keys, as far as the request states them (a person asking
        // for "arm=RED" leaves binning open; the planner states every key).
        let keys = (rule.match ?? Array(request.setup.values.keys)).filter { request.setup[$0] != nil }
        let wanted = request.setup.restricted(to: keys)

        // 1. A pin decides, if one covers this night and setup (on the keys both
        // name: a recipe whose sets do not match on readSpeed asks without it), its product still
        // exists, and the product is of the requested setup on the rule's keys.
        // The last check holds even for pins made before pins named their setup
        // (defence in depth: an empty pin setup covers every request), and a
        // QC-failed product is served only by a pin a person forced.
        var setAside: [String] = []
        for pin in pins where pin.type == request.type && pin.instrument == request.instrument
            && pin.firstNight <= request.night && request.night <= pin.lastNight && pin.setup.agrees(with: request.setup) {
            guard let pinned = candidates.first(where: { $0.id == pin.productId }) else { continue }
            if let refusal = pinRefusal(pinned, pin: pin, wanted: wanted, keys: keys) {
                setAside.append("pin of product \(pinned.id) for \(pin.firstNight)…\(pin.lastNight) set aside: \(refusal)")
                continue
            }
            let chosen = CandidateVerdict(candidate: pinned, deltaDays: pinned.mjd - request.mjd, level: nil, rejection: nil)
            let others = candidates.filter { $0.id != pinned.id }.map {
                CandidateVerdict(candidate: $0, deltaDays: $0.mjd - request.mjd, level: nil, rejection: "pin \(pin.firstNight)…\(pin.lastNight) forces product \(pinned.id)")
            }
            return AssociationResult(chosen: chosen, basis: .pin, level: nil, verdicts: [chosen] + others,
                                     explanation: "\(pin.provenance); \(matchedKeys(keys, rule: rule, request: request))")
        }
        let pinNote = setAside.isEmpty ? "" : " (\(setAside.joined(separator: "; ")))"

        // 2. The rules: eligibility, then the best quality level, then the nearest in time.
        var verdicts: [CandidateVerdict] = []
        for candidate in candidates {
            let delta = candidate.mjd - request.mjd
            var verdict = CandidateVerdict(candidate: candidate, deltaDays: delta, level: nil, rejection: nil)
            verdict.rejection = rejection(of: candidate, delta: delta, request: request, wanted: wanted, keys: keys, rule: rule)
            if verdict.rejection == nil { verdict.level = level(of: candidate, delta: delta, request: request, rule: rule) }
            verdicts.append(verdict)
        }
        let eligible = verdicts.filter { $0.rejection == nil && !$0.candidate.isReference }
        if let best = eligible.min(by: { better($0, than: $1) }) {
            return finish(best, basis: .rules, verdicts: verdicts, rule: rule,
                          explanation: "product \(best.candidate.id), \(rule.levelName(best.level!)), \(describe(best.deltaDays)), QC passed, \(matchedKeys(keys, rule: rule, request: request))\(pinNote)")
        }

        // 3. A reference calibration as the last fallback.
        let references = verdicts.filter { $0.rejection == nil && $0.candidate.isReference }
        if let best = references.min(by: { better($0, than: $1) }) {
            return finish(best, basis: .reference, verdicts: verdicts, rule: rule,
                          explanation: "no nightly product qualifies; reference calibration \(best.candidate.id) used (\(describe(best.deltaDays))), \(matchedKeys(keys, rule: rule, request: request))\(pinNote)")
        }
        let need = "a QC-passed \(request.type.rawValue) of \(request.instrument) with \(wanted.canonical.isEmpty ? "any setup" : wanted.canonical)"
            + (rule.maxAgeDays.map { " within \(AssociationRule.days($0))" } ?? "")
            + (rule.time == .closest ? "" : " taken \(rule.time.rawValue) the data")
        return AssociationResult(chosen: nil, basis: .none, level: nil, verdicts: verdicts.sorted { abs($0.deltaDays) < abs($1.deltaDays) },
                                 explanation: (candidates.isEmpty ? "no \(request.type.rawValue) product exists; needed: \(need)"
                                     : "none of \(candidates.count) candidates qualifies; needed: \(need)")
                                     + "; \(matchedKeys(keys, rule: rule, request: request))" + pinNote)
    }

    /// Why a pinned product may not be served for this request, or nil.
    static func pinRefusal(_ pinned: CalibrationCandidate, pin: CalibrationPin, wanted: Setup, keys: [String]) -> String? {
        if !pinned.isAvailable { return "its file is missing or quarantined" }
        let differing = keys.sorted().filter { pinned.setup[$0] != wanted[$0] }
        if !differing.isEmpty {
            return "the product's setup \(pinned.setup.restricted(to: differing).canonical) is not the requested \(wanted.restricted(to: differing).canonical)"
        }
        if !pinned.qcPassed && !pin.forced { return "the product failed QC and the pin was not forced" }
        return nil
    }

    /// "setup matches on arm, binx; not checked: readSpeed (not in the request)".
    static func matchedKeys(_ keys: [String], rule: AssociationRule, request: AssociationRequest) -> String {
        let unchecked = (rule.match ?? []).filter { request.setup[$0] == nil }.sorted()
        var text = keys.isEmpty ? "setup not checked (the request names none of the match keys)"
            : "setup matches on \(keys.sorted().joined(separator: ", "))"
        if !unchecked.isEmpty { text += "; not checked: \(unchecked.joined(separator: ", ")) (not in the request)" }
        if rule.match == nil { text += " (no association rule for \(request.type.rawValue): every key of the request is matched)" }
        return text
    }

    static func rejection(of c: CalibrationCandidate, delta: Double, request: AssociationRequest, wanted: Setup,
                          keys: [String], rule: AssociationRule) -> String? {
        if c.type != request.type || c.instrument != request.instrument { return "another type or instrument" }
        if !c.isAvailable { return "file missing or quarantined" }
        for key in keys.sorted() where c.setup[key] != wanted[key] {
            return "setup \(key)=\(c.setup[key] ?? "-") does not match \(key)=\(wanted[key] ?? "-")"
        }
        if !c.qcPassed { return "failed QC" }
        if let newer = c.supersededBy { return "superseded by product \(newer)" }
        let sameNight = c.night == request.night
        switch rule.time {
        case .before where delta > 0 && !sameNight: return "taken after the data (time policy: before)"
        case .after where delta < 0 && !sameNight: return "taken before the data (time policy: after)"
        default: break
        }
        if let maxAge = rule.maxAgeDays, abs(delta) > maxAge, !c.isReference {
            return String(format: "%.1f days away, beyond the %@ limit", abs(delta), AssociationRule.days(maxAge))
        }
        return nil
    }

    static func level(of c: CalibrationCandidate, delta: Double, request: AssociationRequest, rule: AssociationRule) -> Int {
        if c.night == request.night { return 0 }
        for (index, limit) in rule.levelLimitsDays.enumerated() where abs(delta) <= limit { return index + 1 }
        return rule.levelLimitsDays.count + 1
    }

    static func better(_ a: CandidateVerdict, than b: CandidateVerdict) -> Bool {
        if a.level != b.level { return (a.level ?? .max) < (b.level ?? .max) }
        if abs(a.deltaDays) != abs(b.deltaDays) { return abs(a.deltaDays) < abs(b.deltaDays) }
        return a.candidate.id > b.candidate.id
    }

    static func finish(_ chosen: CandidateVerdict, basis: AssociationResult.Basis, verdicts: [CandidateVerdict],
                       rule: AssociationRule, explanation: String) -> AssociationResult {
        let annotated = verdicts.map { v -> CandidateVerdict in
            guard v.candidate.id != chosen.candidate.id, v.rejection == nil else { return v }
            var out = v
            if v.candidate.isReference && basis == .rules {
                out.rejection = "reference calibration, used only when no nightly product qualifies"
            } else if v.level != chosen.level {
                out.rejection = "only \(rule.levelName(v.level ?? 99)); product \(chosen.candidate.id) reaches \(rule.levelName(chosen.level ?? 99))"
            } else {
                out.rejection = "further in time (\(describe(v.deltaDays))) than product \(chosen.candidate.id)"
            }
            return out
        }
        let ordered = [chosen] + annotated.filter { $0.candidate.id != chosen.candidate.id }
            .sorted { (($0.level ?? 99), abs($0.deltaDays)) < (($1.level ?? 99), abs($1.deltaDays)) }
        return AssociationResult(chosen: chosen, basis: basis, level: chosen.level, verdicts: ordered, explanation: explanation)
    }

    static func describe(_ delta: Double) -> String {
        abs(delta) < 0.5 / 24 ? "taken at the same time" : String(format: "%.2f days %@", abs(delta), delta < 0 ? "before" : "after")
    }
}
