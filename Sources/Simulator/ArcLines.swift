import Foundation

/// One laboratory arc line.
public struct ArcLine: Sendable, Codable, Equatable {
    /// Vacuum wavelength, nm.
    public let wavelength: Double
    /// Tabulated relative amplitude (arbitrary units).
    public let relativeIntensity: Double
    /// Ion, e.g. "Th_I", "Ar_II".
    public let ion: String

    public init(wavelength: Double, relativeIntensity: Double, ion: String) {
        self.wavelength = wavelength; self.relativeIntensity = relativeIntensity; self.ion = ion
    }
}

public enum ArcLineList {
    /// Parses the `thar_nist_pypeit.dat` format: `#` comments, then
    /// `wavelength_angstrom relative_amplitude ion` per line. Wavelengths are converted Å → nm.
    /// Malformed lines are skipped. The result is sorted by wavelength.
    public static func parse(_ text: String) -> [ArcLine] {
        var out: [ArcLine] = []
        out.reserveCapacity(16_384)
        for raw in text.split(whereSeparator: { $0 == "\n" || $0 == "\r" }) {
            let line = raw.drop(while: { $0 == " " || $0 == "\t" })
            if line.isEmpty || line.first == "#" { continue }
            let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard f.count >= 2, let wa = Double(f[0]), let amp = Double(f[1]) else { continue }
            out.append(ArcLine(wavelength: wa / 10.0, relativeIntensity: amp, ion: f.count >= 3 ? String(f[2]) : ""))
        }
        out.sort { $0.wavelength < $1.wavelength }
        return out
    }
}
