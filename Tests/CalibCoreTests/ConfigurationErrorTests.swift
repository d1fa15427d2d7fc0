import CalibCore
import Foundation
import Testing

@Suite("Configuration errors name the file and the key")
struct ConfigurationErrorTests {
    /// Writes a configuration tree to a temporary directory: calibd.yaml and one profile.
    func makeTree(config: String, profile: String) throws -> String {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("calibd-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/instruments", withIntermediateDirectories: true)
        try config.write(toFile: dir + "/calibd.yaml", atomically: true, encoding: .utf8)
        try profile.write(toFile: dir + "/instruments/test.yaml", atomically: true, encoding: .utf8)
        return dir
    }

    let goodProfile = """
        instrument: TEST
        identify: {key: INSTRUME, equals: TEST}
        night: {utcOffsetHours: -4}
        setup: {arm: ESO SEQ ARM}
        classification:
          - {type: BIAS, when: {key: ESO DPR TYPE, equals: BIAS}}
        recipes:
          - name: mbias
            product: MBIAS
            inputs: {type: BIAS, min: 3, max: 10, match: [arm]}
        """

    func loadError(config: String = "workers: 1\n", profile: String? = nil) throws -> ConfigurationError {
        let dir = try makeTree(config: config, profile: profile ?? goodProfile)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        do {
            _ = try ConfigurationLoader.load(path: dir + "/calibd.yaml")
        } catch {
            return error
        }
        Issue.record("expected a configuration error")
        return ConfigurationError(file: "", key: "", message: "")
    }

    @Test("The shipped configuration loads with its profiles")
    func shipped() throws {
        let configuration = try ConfigurationLoader.load(path: repositoryConfig + "/calibd.yaml")
        #expect(configuration.profiles.contains { $0.name == "SIMECH" })
        #expect(configuration.database.hasSuffix("/calibd.sqlite"))
        #expect(configuration.ingest.accepts(fileName: "BIAS_0001.fits"))
        #expect(!configuration.ingest.accepts(fileName: ".BIAS_0001.fits"))
        #expect(!configuration.ingest.accepts(fileName: "BIAS_0001.fits.part"))
    }

    @Test("A valid tree loads; relative paths resolve against the file")
    func valid() throws {
        let dir = try makeTree(config: "watch: [raw]\nworkspace: ws\n", profile: goodProfile)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let configuration = try ConfigurationLoader.load(path: dir + "/calibd.yaml")
        #expect(configuration.watch == [URL(fileURLWithPath: dir + "/raw").standardizedFileURL.path])
        #expect(configuration.database == URL(fileURLWithPath: dir + "/ws").standardizedFileURL.path + "/calibd.sqlite")
    }

    @Test("Out-of-range worker count")
    func workers() throws {
        let error = try loadError(config: "workers: 0\n")
        #expect(error.file.hasSuffix("calibd.yaml"))
        #expect(error.key == "workers")
    }

    @Test("A misspelt top-level key is reported, not ignored")
    func unknownKey() throws {
        let error = try loadError(config: "wokers: 2\n")
        #expect(error.key == "wokers")
        #expect(error.message.contains("unknown key"))
    }

    @Test("Wrong type deep in a profile names the full key path")
    func wrongType() throws {
        let profile = goodProfile.replacingOccurrences(of: "min: 3", with: "min: three")
        let error = try loadError(profile: profile)
        #expect(error.file.hasSuffix("instruments/test.yaml"))
        #expect(error.key == "recipes[0].inputs.min")
    }

    @Test("Numbers the night and the recipes compute with must be finite and meaningful", arguments: [
        ("detector: {saturationADU: .nan}", "detector.saturationADU"),
        ("detector: {saturationADU: -5}", "detector.saturationADU"),
        ("detector: {saturationADU: {by: arm, values: {RED: 65535, NIR: -5}}}", "detector.saturationADU"),
        ("detector: {scienceRows: [10, 4]}", "detector.scienceRows"),
        ("detector: {defaultGain: .inf}", "detector.defaultGain"),
        ("detector: {defaultGain: 0}", "detector.defaultGain"),
        ("night: {siteLongitudeDeg: 1e300}", "night.siteLongitudeDeg"),
        ("night: {utcOffsetHours: 1, changeoverHour: .nan}", "night.changeoverHour"),
        ("night: {utcOffsetHours: .nan}", "night.utcOffsetHours"),
    ])
    func numbers(line: String, key: String) throws {
        let profile = goodProfile.replacingOccurrences(of: "night: {utcOffsetHours: -4}", with: line.hasPrefix("night") ? line : "night: {utcOffsetHours: -4}\n" + line)
        let error = try loadError(profile: profile)
        #expect(error.key == key, "\(error)")
    }

    @Test("ingest.maxDecompressedBytes below one FITS block is refused")
    func decompressionBound() throws {
        let error = try loadError(config: "workers: 1\ningest: {maxDecompressedBytes: 100}\n")
        #expect(error.key == "ingest.maxDecompressedBytes")
    }

    @Test("A recipe matching on a setup key the profile lacks")
    func unknownMatchKey() throws {
        let error = try loadError(profile: goodProfile.replacingOccurrences(of: "match: [arm]", with: "match: [arm, slit]"))
        #expect(error.key == "recipes[0].inputs.match")
        #expect(error.message.contains("'slit'"))
    }

    @Test("A missing required key")
    func missingKey() throws {
        let error = try loadError(profile: goodProfile.replacingOccurrences(of: "night: {utcOffsetHours: -4}\n", with: ""))
        #expect(error.key == "night")
    }

    @Test("A condition with two tests must use 'all'")
    func ambiguousCondition() throws {
        let error = try loadError(profile: goodProfile.replacingOccurrences(
            of: "{key: ESO DPR TYPE, equals: BIAS}", with: "{key: ESO DPR TYPE, equals: BIAS, present: true}"))
        #expect(error.key.hasPrefix("classification[0].when"))
        #expect(error.message.contains("2 tests"))
    }

    @Test("An unknown frame type")
    func unknownType() throws {
        let error = try loadError(profile: goodProfile.replacingOccurrences(of: "type: BIAS, when", with: "type: BIASS, when"))
        #expect(error.key == "classification[0].type")
    }

    @Test("Invalid YAML")
    func invalidYAML() throws {
        let error = try loadError(config: "workers: [1,\n")
        #expect(error.message.contains("YAML"))
    }
}
