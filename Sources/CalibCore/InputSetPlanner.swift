import Foundation

/// One candidate input set: the frames of one night and one setup (as far as
/// the recipe's match keys go) that a recipe could combine.
public struct InputGroup: Sendable, Hashable {
    public var recipe: String
    public var instrument: String
    public var night: ObservingNight
    /// The setup restricted to the recipe's match keys (plus `exptime`/`lamp` when matched).
    public var setup: Setup
    public var frames: [FrameSummary]
    /// The two lamps of a stitched set (both lamps' flats are in `frames`), nil for an ordinary set.
    public var stitch: LampStitch? = nil
    /// The set's lamp-off frames (`InputSpec.lampOff`), by time; nil when the set takes none.
    public var lampOff: [FrameSummary]? = nil
}

/// Whether an input set may run now.
public enum SetCompleteness: Sendable, Equatable {
    /// Run with these frames (sorted by time, at most the recipe's maximum).
    case complete([FrameSummary])
    /// Not yet; the reason is what `calibctl` shows, and `recheckAt` when the
    /// answer may change without a new frame arriving.
    case waiting(reason: String, recheckAt: Date?)
}

/// Groups frames into candidate input sets and decides when a set is complete.
/// Pure functions: no clock, no database — `now` is an argument.
public enum InputSetPlanner {
    /// Groups the frames a recipe can use by night and matched setup.
    public static func groups(of frames: [FrameSummary], for recipe: RecipeSpec, instrument: String) -> [InputGroup] {
        var byKey: [String: InputGroup] = [:]
        for frame in frames where frame.instrument == instrument && frame.type == recipe.inputs.type {
            // `lamp: NONE` takes the frames without a lamp (as `matchedSetup` names them).
            if let lamp = recipe.inputs.lamp, (frame.lamp ?? "NONE") != lamp { continue }
            var setup = matchedSetup(of: frame, keys: recipe.inputs.match)
            let stitch = stitching(recipe, setup: frame.setup)
            if let stitch {
                // Flats of a third lamp have no place in a stitched master of this setup.
                guard frame.lamp == stitch.blue || frame.lamp == stitch.red else { continue }
                setup["lamp"] = stitch.setupLabel
                setup["exptime"] = nil
            }
            let key = "\(frame.night) \(setup.canonical)"
            byKey[key, default: InputGroup(recipe: recipe.name, instrument: instrument, night: frame.night, setup: setup, frames: [],
                                           stitch: stitch)]
                .frames.append(frame)
        }
        return byKey.values
            .map { var g = $0; g.frames.sort { ($0.mjd, $0.id) < ($1.mjd, $1.id) }; g.lampOff = lampOffFrames(for: g, among: frames, recipe: recipe); return g }
            .sorted { ($0.night, $0.setup.canonical) < ($1.night, $1.setup.canonical) }
    }

    /// The lamp-off frames of a set (see `LampOffInputs`), nil when its setup takes none.
    static func lampOffFrames(for group: InputGroup, among frames: [FrameSummary], recipe: RecipeSpec) -> [FrameSummary]? {
        guard let off = recipe.inputs.lampOff, group.stitch == nil, let first = group.frames.first, off.applies(to: first.setup) else { return nil }
        let keys = recipe.inputs.match + off.match.filter { !recipe.inputs.match.contains($0) }
        var wanted = matchedSetup(of: first, keys: keys)
        wanted["lamp"] = nil
        let matching = frames.filter { frame in
            frame.instrument == group.instrument && frame.night == group.night && off.admits(type: frame.type, lamp: frame.lamp) && {
                var setup = matchedSetup(of: frame, keys: keys)
                setup["lamp"] = nil
                return setup == wanted
            }()
        }
        let templates = Set(group.frames.compactMap(\.templateStart))
        let sameTemplate = matching.filter { $0.templateStart.map(templates.contains) ?? false }
        return (sameTemplate.isEmpty ? matching : sameTemplate).sorted { ($0.mjd, $0.id) < ($1.mjd, $1.id) }
    }

    /// The lamps to stitch for frames of `setup`: the input spec's `stitch`, when the
    /// recipe's `stitchOrder` parameter applies to the setup (e.g. `stitchOrder[arm=BLUE]`).
    public static func stitching(_ recipe: RecipeSpec, setup: Setup) -> LampStitch? {
        guard let stitch = recipe.inputs.stitch,
              SetupScoped.parameters(recipe.parameters, setup: setup)[LampStitch.orderParameter] != nil else { return nil }
        return stitch
    }

    /// Whether a group is a complete input set: `completeness(of:spec:now:settleSeconds:)`
    /// for an ordinary group; for a stitched group, per lamp.
    ///
    /// A stitched set is complete when each lamp's frames are (at least `min`
    /// of each, at most `max` of each used). When one lamp has no frames at
    /// all, the set waits `settleSeconds` after its last frame — a complete
    /// template of one lamp does not end the wait, since the other lamp's
    /// template usually follows — and is then handed on with one lamp only,
    /// so that the recipe fails it with a recorded reason (a night operator
    /// sees "no D2 flats" in the job list and the night report rather than a
    /// master that silently never appears). Flats of the missing lamp arriving
    /// later make a new input set, and so a new job.
    public static func completeness(of group: InputGroup, spec: InputSpec, now: Date, settleSeconds: Double) -> SetCompleteness {
        if let offFrames = group.lampOff, let off = spec.lampOff {
            // A template holds the lamp frames and their lamp-off twins: count both to know it is finished.
            let lampOn = completeness(of: group.frames, spec: spec, now: now, settleSeconds: settleSeconds, templateCompanions: offFrames)
            guard case .complete(let frames) = lampOn else { return lampOn }
            guard offFrames.count >= off.min else {
                return .waiting(reason: "\(offFrames.count) of at least \(off.min) lamp-off \(off.type.rawValue) frames", recheckAt: nil)
            }
            return .complete(frames + offFrames.suffix(off.max))
        }
        guard let stitch = group.stitch else {
            return completeness(of: group.frames, spec: spec, now: now, settleSeconds: settleSeconds)
        }
        let blue = group.frames.filter { $0.lamp == stitch.blue }, red = group.frames.filter { $0.lamp == stitch.red }
        if blue.isEmpty || red.isEmpty {
            let present = blue.isEmpty ? red : blue
            let missing = blue.isEmpty ? stitch.blue : stitch.red
            let settledAt = present.map(\.recordedAt).max()!.addingTimeInterval(settleSeconds)
            if now < settledAt {
                return .waiting(reason: "waiting \(Int(settleSeconds)) s for \(missing) \(spec.type.rawValue) frames to stitch with the \(present.count) \(present[0].lamp ?? "") ones",
                                recheckAt: settledAt)
            }
            return completeness(of: present, spec: spec, now: now, settleSeconds: settleSeconds)
        }
        var chosen: [FrameSummary] = []
        for (lamp, frames) in [(stitch.blue, blue), (stitch.red, red)] {
            switch completeness(of: frames, spec: spec, now: now, settleSeconds: settleSeconds) {
            case .waiting(let reason, let recheck): return .waiting(reason: "\(lamp): \(reason)", recheckAt: recheck)
            case .complete(let frames): chosen += frames
            }
        }
        return .complete(chosen.sorted { ($0.mjd, $0.id) < ($1.mjd, $1.id) })
    }

    /// The setup values a recipe matches on, including the `exptime` and `lamp` pseudo-keys.
    public static func matchedSetup(of frame: FrameSummary, keys: [String]) -> Setup {
        var setup = frame.setup.restricted(to: keys)
        if keys.contains("exptime") { setup["exptime"] = String(format: "%g", frame.exposureTime) }
        if keys.contains("lamp") { setup["lamp"] = frame.lamp ?? "NONE" }
        return setup
    }

    /// Decides whether a group of frames is a complete input set.
    ///
    /// Frames taken by a template are complete when the template has all its
    /// `NEXP` exposures. Other frames (and templates that never finished) are
    /// complete once the minimum is reached and no matching frame has
    /// arrived for `settleSeconds`. With more frames than the maximum, the
    /// latest are used.
    ///
    /// `templateCompanions` are other frames of the same templates (lamp-off twins) that count
    /// towards a template's `NEXP` but are not part of the set.
    public static func completeness(of frames: [FrameSummary], spec: InputSpec, now: Date, settleSeconds: Double,
                                    templateCompanions: [FrameSummary] = []) -> SetCompleteness {
        guard !frames.isEmpty else { return .waiting(reason: "no \(spec.type.rawValue) frames", recheckAt: nil) }
        let lastArrival = (frames + templateCompanions).map(\.recordedAt).max()!
        let settledAt = lastArrival.addingTimeInterval(settleSeconds)
        let settled = now >= settledAt

        var templates: [String: [FrameSummary]] = [:]
        var loose: [FrameSummary] = []
        for frame in frames {
            if let start = frame.templateStart, let count = frame.templateCount, count > 0 {
                templates[start, default: []].append(frame)
            } else {
                loose.append(frame)
            }
        }
        var unfinished: [String] = []
        for (start, members) in templates.sorted(by: { $0.key < $1.key }) {
            let expected = members[0].templateCount!
            let present = members.count + templateCompanions.count { $0.templateStart == start }
            if present < expected { unfinished.append("template \(start) has \(present) of \(expected) exposures") }
        }
        let needsSettle = !loose.isEmpty || !unfinished.isEmpty
        if needsSettle && !settled {
            let why = unfinished.first ?? "waiting \(Int(settleSeconds)) s for more \(spec.type.rawValue) frames"
            return .waiting(reason: why, recheckAt: settledAt)
        }
        guard frames.count >= spec.min else {
            return .waiting(reason: "\(frames.count) of at least \(spec.min) \(spec.type.rawValue) frames", recheckAt: nil)
        }
        let sorted = frames.sorted { ($0.mjd, $0.id) < ($1.mjd, $1.id) }
        return .complete(Array(sorted.suffix(spec.max)))
    }
}
