import CalibCore
import Foundation
import Testing

@Suite("Input sets of an arm flat-fielded with two lamps")
struct StitchedInputSetTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)
    let recipe = RecipeSpec(
        name: "mflat", product: .masterFlat,
        inputs: InputSpec(type: .flat, min: 3, max: 4, match: ["arm", "exptime", "lamp"], stitch: LampStitch(blue: "D2", red: "QTH")),
        parameters: ["stitchOrder[arm=BLUE]": 25, "clipSigma": 3])

    func flat(_ id: Int64, arm: String = "BLUE", lamp: String?, exptime: Double, at seconds: Double = 0,
              template: String? = nil, count: Int? = nil) -> FrameSummary {
        FrameSummary(id: id, checksum: "c\(id)", instrument: "SIMECH", type: .flat, lamp: lamp, night: ObservingNight("2026-11-21")!,
                     setup: Setup(["arm": arm]), mjd: 61000 + Double(id) / 1000, exposureTime: exptime,
                     templateStart: template, templateCount: count, recordedAt: t0.addingTimeInterval(seconds))
    }

    /// Five D2 flats of 20 s then five QTH flats of 10 s, each lamp's a finished template.
    func bothLamps(arm: String = "BLUE") -> [FrameSummary] {
        (1...5).map { flat(Int64($0), arm: arm, lamp: "D2", exptime: 20, template: "T1", count: 5) }
            + (6...10).map { flat(Int64($0), arm: arm, lamp: "QTH", exptime: 10, at: 300, template: "T2", count: 5) }
    }

    @Test("Where a stitch order applies, both lamps' flats form one set (lamp and exposure time do not split it); elsewhere one set per lamp")
    func grouping() throws {
        let frames = bothLamps() + [flat(20, lamp: "ThAr", exptime: 10)] + bothLamps(arm: "RED").map { var f = $0; f.id += 100; return f }
        let groups = InputSetPlanner.groups(of: frames, for: recipe, instrument: "SIMECH")
        let blue = groups.filter { $0.setup["arm"] == "BLUE" }
        #expect(blue.count == 1)
        let set = try #require(blue.first)
        #expect(set.stitch == LampStitch(blue: "D2", red: "QTH"))
        #expect(set.setup["lamp"] == "D2+QTH" && set.setup["exptime"] == nil)
        #expect(set.frames.map(\.id) == Array(1...10), "the ThAr frame has no place in the stitched set")
        let red = groups.filter { $0.setup["arm"] == "RED" }
        #expect(Set(red.compactMap { $0.setup["lamp"] }) == ["D2", "QTH"])
        #expect(red.allSatisfy { $0.stitch == nil })
    }

    @Test("A stitched set is complete when each lamp's frames are; at most max frames of each lamp are used")
    func complete() throws {
        var frames = bothLamps()
        frames += (11...12).map { flat(Int64($0), lamp: "QTH", exptime: 10, at: 400, template: "T2", count: 5) }
        let group = try #require(InputSetPlanner.groups(of: frames, for: recipe, instrument: "SIMECH").first)
        let result = InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: t0.addingTimeInterval(400), settleSeconds: 300)
        guard case .complete(let chosen) = result else { Issue.record("expected complete, got \(result)"); return }
        #expect(chosen.filter { $0.lamp == "D2" }.map(\.id) == [2, 3, 4, 5])
        #expect(chosen.filter { $0.lamp == "QTH" }.map(\.id) == [9, 10, 11, 12])
    }

    @Test("With too few flats of one lamp the set waits and says which lamp")
    func tooFew() throws {
        let frames = Array(bothLamps().prefix(2)) + bothLamps().suffix(5)
        let group = try #require(InputSetPlanner.groups(of: frames, for: recipe, instrument: "SIMECH").first)
        let result = InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: t0.addingTimeInterval(1e5), settleSeconds: 300)
        #expect(result == .waiting(reason: "D2: 2 of at least 3 FLAT frames", recheckAt: nil))
    }

    @Test("Without one lamp's flats the set waits the settle time even after a finished template, then goes on with one lamp for the recipe to fail with the reason")
    func oneLampOnly() throws {
        let frames = Array(bothLamps().suffix(5))
        let group = try #require(InputSetPlanner.groups(of: frames, for: recipe, instrument: "SIMECH").first)
        let early = InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: t0.addingTimeInterval(310), settleSeconds: 300)
        guard case .waiting(let reason, let recheck) = early else { Issue.record("expected waiting, got \(early)"); return }
        #expect(reason.contains("D2") && reason.contains("5 QTH"))
        #expect(recheck == t0.addingTimeInterval(600))
        let late = InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: t0.addingTimeInterval(600), settleSeconds: 300)
        #expect(late == .complete(Array(frames.suffix(4))), "the latest max (4) QTH flats")
    }

    @Test("A stitch without a stitch order, or a stitch order without the lamps, is a configuration error naming the key")
    func configuration() throws {
        let profile = """
            instrument: TEST
            identify: {key: INSTRUME, equals: TEST}
            night: {utcOffsetHours: -4}
            setup: {arm: ESO SEQ ARM}
            classification:
              - {type: FLAT, lampKey: LAMP, when: {key: ESO DPR TYPE, equals: FLAT}}
            recipes:
              - name: mflat
                product: MFLAT
                inputs: {type: FLAT, min: 3, max: 10, match: [arm, lamp]STITCH}
                parameters: {PARAMETERS}
            """
        func load(stitch: String, parameters: String) throws -> ConfigurationError? {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-stitch-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try FileManager.default.createDirectory(atPath: dir + "/instruments", withIntermediateDirectories: true)
            try "workers: 1\n".write(toFile: dir + "/calibd.yaml", atomically: true, encoding: .utf8)
            try profile.replacingOccurrences(of: "STITCH", with: stitch).replacingOccurrences(of: "PARAMETERS", with: parameters)
                .write(toFile: dir + "/instruments/test.yaml", atomically: true, encoding: .utf8)
            do { _ = try ConfigurationLoader.load(path: dir + "/calibd.yaml"); return nil } catch { return error }
        }
        let stitch = ", stitch: {blue: D2, red: QTH}"
        #expect(try load(stitch: stitch, parameters: "\"stitchOrder[arm=UVB]\": 20") == nil)
        let noOrder = try #require(try load(stitch: stitch, parameters: "clipSigma: 3"))
        #expect(noOrder.key == "recipes[0].parameters" && noOrder.message.contains("stitchOrder"))
        let noLamps = try #require(try load(stitch: "", parameters: "\"stitchOrder[arm=UVB]\": 20"))
        #expect(noLamps.key == "recipes[0].parameters.stitchOrder[arm=UVB]" && noLamps.message.contains("inputs.stitch"))
    }
}
