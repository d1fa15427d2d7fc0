import CalibCore
import FITS
import Foundation
import Testing

/// Seeded random testing of the parts that read untrusted input: header
/// classification and configuration loading. A fixed seed keeps CI
/// repeatable; `CALIBD_FUZZ_ITERATIONS` runs longer (e.g. 1000000 overnight).
@Suite("Fuzzing (seeded)")
struct FuzzTests {
    static let scale = Int(ProcessInfo.processInfo.environment["CALIBD_FUZZ_ITERATIONS"] ?? "") ?? 5_000

    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func pick<T>(_ options: [T]) -> T { options[below(options.count)] }
    }

    @Test("Random headers over the profiles' own keywords classify without a crash, deterministically")
    func classifier() throws {
        let configuration = try ConfigurationLoader.load(path: repositoryConfig + "/calibd.yaml")
        let keys = Array(Set(configuration.profiles.flatMap { p in
            p.classification.flatMap(\.when.keywords) + p.setupKeys.values.flatMap { $0 } + [p.timeKey, p.exposureTimeKey] + p.identify.keywords.sorted()
        })).sorted() + ["OBJECT", "NAXIS", "HIERARCH ESO DPR TYPE"]
        let strings = ["BIAS", "DARK", "LAMP,FLAT", "LAMP,WAVE", "ECHELLE,SLIT", "ECHELLE,PINHOLE", "CALIB", "SCIENCE", "SIMECH", "SHOOT",
                       "SPIRou", "pos_wl", "pos_pk", "RED", "", " ", "'", "\u{0}", "é", String(repeating: "x", count: 400), "NaN", "1e308"]
        var generator = Generator(state: 42)
        var seen: [FrameType: Int] = [:]
        for _ in 0..<Self.scale {
            var cards: [HeaderCard] = []
            for _ in 0..<generator.below(12) {
                let value: HeaderValue
                switch generator.below(5) {
                case 0: value = .string(generator.pick(strings))
                case 1: value = .integer(Int64(bitPattern: generator.next()))
                case 2: value = .real([0, -1, 1e-300, 1e300, .nan, .infinity, 61365.9, 3.5][generator.below(8)])
                case 3: value = .logical(generator.below(2) == 0)
                default: value = .undefined
                }
                cards.append(HeaderCard(key: generator.pick(keys), value: value, comment: ""))
            }
            let header = FITSHeader(cards)
            for profile in configuration.profiles {
                let first = profile.classify(header)
                #expect(profile.classify(header) == first)
                seen[first.type, default: 0] += 1
                _ = profile.setup(of: header)
                if let mjd = header.double(profile.timeKey), mjd.isFinite, abs(mjd) < 1e7 { _ = profile.night.night(forMJD: mjd) }
            }
        }
        #expect(seen.count >= 2, "the generator reached only \(seen)")
    }

    @Test("Mutated instrument profiles load or fail with a ConfigurationError naming the file — never crash")
    func configurationLoader() throws {
        let original = try String(contentsOfFile: repositoryConfig + "/instruments/simech.yaml", encoding: .utf8)
        let lines = original.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let tokens = ["", "-", ":", "[", "]", "{", "}", "null", "~", "0", "-1", "1e999", "x: y", "  - ", "'", "\"", "&a", "*a", "!!int",
                      "recipes:", "type: FLAT", "min: -3", "match: [nope]", "\t", "…"]
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/profile.yaml"
        var generator = Generator(state: 7)
        var loaded = 0, refused = 0
        for _ in 0..<max(200, Self.scale / 20) {
            var mutated = lines
            for _ in 0...generator.below(3) {
                let i = generator.below(mutated.count)
                switch generator.below(5) {
                case 0: mutated.remove(at: i)
                case 1: mutated.insert(mutated[generator.below(mutated.count)], at: i)
                case 2: mutated[i] = String(mutated[i].prefix(generator.below(max(mutated[i].count, 1))))
                case 3: mutated[i] += generator.pick(tokens)
                default: mutated[i] = String(repeating: " ", count: generator.below(6)) + generator.pick(tokens)
                }
                if mutated.isEmpty { mutated = [""] }
            }
            try mutated.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
            do {
                _ = try ConfigurationLoader.loadProfile(path: path)
                loaded += 1
            } catch {
                #expect(error.file == path)
                #expect(!error.message.isEmpty)
                refused += 1
            }
        }
        #expect(refused > 0 && loaded + refused > 0)
    }
}
