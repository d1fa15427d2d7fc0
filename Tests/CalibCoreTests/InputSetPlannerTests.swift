import CalibCore
import Foundation
import Testing

@Suite("Complete input sets")
struct InputSetPlannerTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let spec = InputSpec(type: .bias, min: 3, max: 5, match: ["arm"])

    func makeBias(_ id: Int64, arm: String = "RED", at seconds: Double = 0, template: String? = nil, count: Int? = nil,
                  night: String = "2026-11-21") -> FrameSummary {
        FrameSummary(id: id, checksum: "c\(id)", instrument: "SIMECH", type: .bias, night: ObservingNight(night)!,
                     setup: Setup(["arm": arm, "binx": "1"]), mjd: 61000 + Double(id) / 1000, exposureTime: 0,
                     templateStart: template, templateCount: count, recordedAt: t0.addingTimeInterval(seconds))
    }

    @Test("Frames group by night and the matched setup keys only")
    func grouping() {
        let recipe = RecipeSpec(name: "mbias", product: .masterBias, inputs: spec)
        let frames = [makeBias(1), makeBias(2, arm: "BLUE"), makeBias(3), makeBias(4, night: "2026-11-22")]
        let groups = InputSetPlanner.groups(of: frames, for: recipe, instrument: "SIMECH")
        #expect(groups.count == 3)
        #expect(groups.first { $0.setup["arm"] == "RED" && $0.night.description == "2026-11-21" }?.frames.map(\.id) == [1, 3])
        #expect(groups.allSatisfy { $0.setup["binx"] == nil })
    }

    @Test("Without a template, a set waits for the settle time after its last frame")
    func settle() {
        let frames = [makeBias(1), makeBias(2, at: 10), makeBias(3, at: 20)]
        let early = InputSetPlanner.completeness(of: frames, spec: spec, now: t0.addingTimeInterval(100), settleSeconds: 300)
        guard case .waiting(_, let recheck) = early else { Issue.record("expected waiting"); return }
        #expect(recheck == t0.addingTimeInterval(320))
        let late = InputSetPlanner.completeness(of: frames, spec: spec, now: t0.addingTimeInterval(320), settleSeconds: 300)
        #expect(late == .complete(frames))
    }

    @Test("Below the minimum a set never completes, however long it settles")
    func minimum() {
        let frames = [makeBias(1), makeBias(2)]
        let result = InputSetPlanner.completeness(of: frames, spec: spec, now: t0.addingTimeInterval(1e6), settleSeconds: 300)
        #expect(result == .waiting(reason: "2 of at least 3 BIAS frames", recheckAt: nil))
    }

    @Test("A finished template completes at once; an unfinished one waits, then counts after the settle time")
    func template() {
        let full = (1...3).map { makeBias(Int64($0), template: "2026-11-21T18:00:00", count: 3) }
        #expect(InputSetPlanner.completeness(of: full, spec: spec, now: t0, settleSeconds: 300) == .complete(full))
        let partial = Array(full.prefix(2)) + [makeBias(9)]
        let waiting = InputSetPlanner.completeness(of: partial, spec: spec, now: t0, settleSeconds: 300)
        guard case .waiting(let reason, _) = waiting else { Issue.record("expected waiting"); return }
        #expect(reason.contains("2 of 3"))
        #expect(InputSetPlanner.completeness(of: partial, spec: spec, now: t0.addingTimeInterval(301), settleSeconds: 300) != waiting)
    }

    @Test("Above the maximum, the latest frames are used")
    func maximum() {
        let frames = (1...7).map { makeBias(Int64($0)) }
        let result = InputSetPlanner.completeness(of: frames, spec: spec, now: t0.addingTimeInterval(1000), settleSeconds: 300)
        #expect(result == .complete(Array(frames.suffix(5))))
    }
}
