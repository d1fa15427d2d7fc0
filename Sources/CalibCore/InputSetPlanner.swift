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
            if let lamp = recipe.inputs.lamp, frame.lamp != lamp { continue }
            let setup = matchedSetup(of: frame, keys: recipe.inputs.match)
            let key = "\(frame.night) \(setup.canonical)"
            byKey[key, default: InputGroup(recipe: recipe.name, instrument: instrument, night: frame.night, setup: setup, frames: [])]
                .frames.append(frame)
        }
        return byKey.values
            .map { var g = $0; g.frames.sort { ($0.mjd, $0.id) < ($1.mjd, $1.id) }; return g }
            .sorted { ($0.night, $0.setup.canonical) < ($1.night, $1.setup.canonical) }
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
    public static func completeness(of frames: [FrameSummary], spec: InputSpec, now: Date, settleSeconds: Double) -> SetCompleteness {
        guard !frames.isEmpty else { return .waiting(reason: "no \(spec.type.rawValue) frames", recheckAt: nil) }
        let lastArrival = frames.map(\.recordedAt).max()!
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
            if members.count < expected { unfinished.append("template \(start) has \(members.count) of \(expected) exposures") }
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
