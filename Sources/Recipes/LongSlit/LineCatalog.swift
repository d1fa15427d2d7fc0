import Foundation

/// A laboratory line list as calibd ships them (`config/linelists/*.dat`): one line per
/// row, `wavelength_angstrom relative_amplitude ion`, `#` comments. Wavelengths in Å.
public struct LineCatalog: Sendable, Equatable {
    public var wavelengths: [Double]
    public var amplitudes: [Double]

    public init(wavelengths: [Double], amplitudes: [Double]) {
        self.wavelengths = wavelengths; self.amplitudes = amplitudes
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// Parses a list; a row that is not two numbers and a name is refused with its line number.
    public static func parse(_ text: String, source: String) throws(Failure) -> LineCatalog {
        var out = LineCatalog(wavelengths: [], amplitudes: [])
        for (n, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 2, let wavelength = Double(fields[0]), let amplitude = Double(fields[1]), wavelength > 0 else {
                throw Failure(description: "\(source) line \(n + 1): expected 'wavelength amplitude ion', found '\(line)'")
            }
            out.wavelengths.append(wavelength); out.amplitudes.append(amplitude)
        }
        return out
    }

    /// Several lists as one (a lamp with several elements), sorted by wavelength.
    public static func merged(_ lists: [LineCatalog]) -> LineCatalog {
        let pairs = lists.flatMap { zip($0.wavelengths, $0.amplitudes) }.sorted { $0.0 < $1.0 }
        return LineCatalog(wavelengths: pairs.map(\.0), amplitudes: pairs.map(\.1))
    }
}
