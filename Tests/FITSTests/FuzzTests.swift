import FITS
import Foundation
import Testing

/// Seeded random FITS-like files: header blocks of random cards and random
/// bytes, truncated anywhere. The structural check and header reading must
/// give a result or a typed error — never crash, hang or leak messages.
@Suite("FITS fuzzing (seeded)")
struct FITSFuzzTests {
    @Test("Random headers and truncations give typed errors or headers")
    func randomFiles() throws {
        let iterations = Int(ProcessInfo.processInfo.environment["CALIBD_FUZZ_ITERATIONS"] ?? "").map { $0 / 20 } ?? 500
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("fits-fuzz-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var state: UInt64 = 99
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let keys = ["SIMPLE", "BITPIX", "NAXIS", "NAXIS1", "NAXIS2", "EXTEND", "XTENSION", "PCOUNT", "GCOUNT", "BZERO", "BSCALE",
                    "CONTINUE", "HIERARCH ESO DPR TYPE", "END", "COMMENT", "ZIMAGE", "TFIELDS"]
        let values = ["T", "F", "16", "-32", "8", "0", "2", "99999999", "-1", "'IMAGE'", "'BINTABLE'", "'&'", "1.5E3", "", "="]
        var outcomes = [String: Int]()
        for i in 0..<iterations {
            var text = ""
            let cardCount = Int(next() % 40)
            for c in 0..<cardCount {
                let key = c == 0 && next() % 4 != 0 ? "SIMPLE" : keys[Int(next() % UInt64(keys.count))]
                let value = values[Int(next() % UInt64(values.count))]
                var card = key.count > 8 ? key + " = " + value : key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + value
                if next() % 10 == 0 { card = String((0..<80).map { _ in Character(UnicodeScalar(UInt8(32 + next() % 95))) }) }
                text += card.padding(toLength: 80, withPad: " ", startingAt: 0)
            }
            if next() % 3 != 0 { text += "END".padding(toLength: 80, withPad: " ", startingAt: 0) }
            var data = Data(text.utf8)
            data.append(Data(repeating: 0x20, count: (2880 - data.count % 2880) % 2880))
            data.append(Data((0..<Int(next() % 6000)).map { _ in UInt8(truncatingIfNeeded: next()) }))
            if next() % 2 == 0 { data = data.prefix(Int(next() % UInt64(max(data.count, 1)))) }
            let path = directory + "/f\(i % 16).fits"
            try data.write(to: URL(fileURLWithPath: path))
            switch FITSIntegrity.check(path: path) {
            case .success:
                outcomes["ok", default: 0] += 1
                if let file = try? FITSFile.open(path) { _ = try? file.readHeader(); try? file.close() }
            case .failure(let error):
                outcomes["\(error.kind)", default: 0] += 1
                #expect(error.description.contains(path))
            }
        }
        #expect(outcomes.count >= 2, "\(outcomes)")
    }
}
