import CalibCore
import Foundation
import Testing

/// A detector without a bias (X-shooter's NIR): each lamp frame's set takes the lamp-off
/// frames of its DIT and NDIT, its own template's when it has them, and a setup scope keeps
/// the other arms' sets as they were.
@Suite("Input sets with lamp-off frames")
struct LampOffInputSetTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let recipe = RecipeSpec(
        name: "mflat", product: .masterFlat,
        inputs: InputSpec(type: .flat, lamp: "QTH", min: 2, max: 10, match: ["arm", "exptime", "lamp"],
                          lampOff: LampOffInputs(type: .dark, lamp: "OFF", min: 1, max: 10, setup: "arm=NIR", match: ["exptime", "ndit"])),
        upstream: [.masterBias, .orderCentres], upstreamBySetup: ["arm=NIR": [.orderCentres]])

    func frame(_ id: Int64, _ type: FrameType, lamp: String?, arm: String = "NIR", exptime: Double = 10, ndit: String = "1",
               template: String?, count: Int?, at seconds: Double = 0) -> FrameSummary {
        FrameSummary(id: id, checksum: "c\(id)", instrument: "XSHOOTER", type: type, lamp: lamp, night: ObservingNight("2026-12-01")!,
                     setup: Setup(["arm": arm, "ndit": ndit]), mjd: 61000 + Double(id) / 1000, exposureTime: exptime,
                     templateStart: template, templateCount: count, recordedAt: t0.addingTimeInterval(seconds))
    }

    /// Three flats each followed by its lamp-off twin (template T1 of 6), an order definition and its twin (T2 of 2),
    /// plain darks at the same DIT, and lamp-off frames at another DIT and at another NDIT.
    var night: [FrameSummary] {
        var frames: [FrameSummary] = []
        for k in 0..<3 {
            frames.append(frame(Int64(2 * k + 1), .flat, lamp: "QTH", template: "T1", count: 6))
            frames.append(frame(Int64(2 * k + 2), .dark, lamp: "OFF", template: "T1", count: 6))
        }
        frames.append(frame(7, .orderDefinition, lamp: "QTH", template: "T2", count: 2))
        frames.append(frame(8, .dark, lamp: "OFF", template: "T2", count: 2))
        frames.append(frame(9, .dark, lamp: nil, template: "T3", count: 1))
        frames.append(frame(10, .dark, lamp: "OFF", exptime: 20, template: "T4", count: 1))
        frames.append(frame(11, .dark, lamp: "OFF", ndit: "2", template: "T5", count: 1))
        return frames
    }

    @Test("A NIR flat set takes its own template's lamp-off frames; without those, every lamp-off frame of the same DIT and NDIT")
    func sameTemplateFirst() throws {
        // Given a NIR night
        // When its flats are grouped
        let group = try #require(InputSetPlanner.groups(of: night, for: recipe, instrument: "XSHOOTER").first)
        // Then the set's lamp-off frames are the three twins of template T1
        #expect(group.frames.map(\.id) == [1, 3, 5])
        #expect(group.lampOff?.map(\.id) == [2, 4, 6])
        // And without T1's twins, the order definition's (10 s, NDIT 1) is taken, not the 20 s or NDIT 2 ones nor the plain dark
        let withoutTwins = night.filter { ![2, 4, 6].contains($0.id) }
        let fallback = try #require(InputSetPlanner.groups(of: withoutTwins, for: recipe, instrument: "XSHOOTER").first)
        #expect(fallback.lampOff?.map(\.id) == [8])
    }

    @Test("The set is complete once its template holds NEXP frames counting the lamp-off twins, and hands on lamp and lamp-off frames")
    func completeness() throws {
        // Given the flats and their twins, the template finished (6 of 6) — no settle wait needed
        let group = try #require(InputSetPlanner.groups(of: night, for: recipe, instrument: "XSHOOTER").first)
        let result = InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: t0, settleSeconds: 300)
        #expect(result == .complete(group.frames + group.lampOff!))
        // And with the last twin missing the template is unfinished: the set waits for it
        let partial = try #require(InputSetPlanner.groups(of: night.filter { $0.id != 6 }, for: recipe, instrument: "XSHOOTER").first)
        let waiting = InputSetPlanner.completeness(of: partial, spec: recipe.inputs, now: t0, settleSeconds: 300)
        #expect(waiting == .waiting(reason: "template T1 has 5 of 6 exposures", recheckAt: t0.addingTimeInterval(300)))
        // And with no lamp-off frame at all it waits, saying so
        let none = try #require(InputSetPlanner.groups(of: night.filter { $0.lamp != "OFF" }, for: recipe, instrument: "XSHOOTER").first)
        let noOff = InputSetPlanner.completeness(of: none, spec: recipe.inputs, now: t0.addingTimeInterval(1e4), settleSeconds: 300)
        #expect(noOff == .waiting(reason: "0 of at least 1 lamp-off DARK frames", recheckAt: nil))
    }

    @Test("Other setups take no lamp-off frames and keep their MBIAS; the NIR's upstream is its own")
    func scopedToTheSetup() throws {
        // Given VIS flats beside lamp-off frames of the same DIT
        let vis = (20...22).map { frame(Int64($0), .flat, lamp: "QTH", arm: "VIS", template: "V1", count: 3) }
            + [frame(23, .dark, lamp: "OFF", arm: "VIS", template: "V1", count: 3)]
        let group = try #require(InputSetPlanner.groups(of: vis, for: recipe, instrument: "XSHOOTER").first)
        // Then the VIS set takes none, and is complete without
        #expect(group.lampOff == nil)
        #expect(InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: t0, settleSeconds: 0) == .complete(Array(vis.prefix(3))))
        // And the upstream calibrations differ by arm
        #expect(recipe.upstream(for: Setup(["arm": "VIS"])) == [.masterBias, .orderCentres])
        #expect(recipe.upstream(for: Setup(["arm": "NIR"])) == [.orderCentres])
        #expect(Set(recipe.anyUpstream) == [.masterBias, .orderCentres])
    }

    @Test("lamp: NONE takes the frames classified without a lamp, so the plain darks make a master and the lamp-off ones do not")
    func lampNone() throws {
        let mdark = RecipeSpec(name: "mdark", product: .masterDark,
                               inputs: InputSpec(type: .dark, lamp: "NONE", min: 1, max: 30, match: ["arm", "exptime", "lamp"]))
        let groups = InputSetPlanner.groups(of: night, for: mdark, instrument: "XSHOOTER")
        #expect(groups.map { $0.frames.map(\.id) } == [[9]])
    }
}
