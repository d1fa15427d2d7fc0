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

    @Test("Random hostile headers go through the whole ingest examination and the recipes' frame preparation without a trap")
    func ingestExamination() throws {
        let configuration = try ConfigurationLoader.load(path: repositoryConfig + "/calibd.yaml")
        let detectorKeys = configuration.profiles.flatMap { p in
            [p.detector.overscanColumnsKey, p.detector.prescanColumnsKey, p.detector.gainKey].compactMap { $0 }
                + p.setupKeys.values.flatMap { $0 } + [p.template?.count, p.template?.start].compactMap { $0 }
        }
        let keys = Array(Set(detectorKeys + ["MJD-OBS", "DATE-OBS", "EXPTIME", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "NAXIS3"])).sorted()
        let numbers: [Double] = [0, -1, 1, 2.5, -1e300, 1e300, .nan, .infinity, -.infinity, 61365.9, 1.1e12, 9.3e18, 4096, 16]
        let integers: [Int64] = [0, -1, 1, 2, 16, 64, 65, 4096, 1 << 31, 1 << 40, .max, .min]
        let strings = ["", "1", "-1", "2026-11-21T21:36:00", "2026-11-21T99:00:00", "9999-12-31", "1e308", "NaN", "RED", "'"]
        var generator = Generator(state: 1018)
        var usable = 0, problems = 0
        for _ in 0..<Self.scale {
            var cards = [HeaderCard(key: "INSTRUME", value: .string("SIMECH"), comment: ""),
                         HeaderCard(key: "ESO DPR CATG", value: .string("CALIB"), comment: ""),
                         HeaderCard(key: "ESO DPR TYPE", value: .string(generator.pick(["BIAS", "DARK", "LAMP,FLAT"])), comment: ""),
                         HeaderCard(key: "ESO DPR TECH", value: .string("IMAGE"), comment: ""),
                         HeaderCard(key: "MJD-OBS", value: .real(61365.9), comment: ""), HeaderCard(key: "EXPTIME", value: .real(1), comment: "")]
            for _ in 0..<generator.below(6) {
                let value: HeaderValue
                switch generator.below(4) {
                case 0: value = .real(generator.pick(numbers))
                case 1: value = .integer(generator.pick(integers))
                case 2: value = .string(generator.pick(strings))
                default: value = .integer(Int64(bitPattern: generator.next()))
                }
                // In front, so that it wins over the defaults above (the first card with a key counts).
                cards.insert(HeaderCard(key: generator.pick(keys), value: value, comment: ""), at: 0)
            }
            let header = FITSHeader(cards)
            for profile in configuration.profiles {
                let verdict = FrameHeaderExamination(header: header, profile: profile)
                if let problem = verdict.problem {
                    #expect(!problem.isEmpty)
                    problems += 1
                } else {
                    #expect(verdict.night != nil && verdict.mjd.map(HeaderValidation.mjdRange.contains) == true)
                    usable += 1
                }
                for width in [0, 1, 256, 4096, Int.max] {
                    if case .success(let windows) = DetectorWindows.read(header, layout: profile.detector, width: width) {
                        #expect(!windows.science.isEmpty && windows.science.upperBound <= width)
                    }
                }
                if case .success(let gain) = HeaderValidation.gain(header, layout: profile.detector) { #expect(gain.isNaN || gain > 0) }
                if let mjd = header.double(profile.timeKey) { _ = profile.night.night(forMJD: mjd) }
            }
        }
        #expect(usable > 0 && problems > 0, "usable \(usable), problems \(problems)")
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
