import CalibCore
import Foundation
import Testing
@testable import Simulator

/// The simulated multi-slit spectrograph renders what its truth says.
@Suite("Simulated multi-slit and long-slit spectrograph")
struct MultiSlitSimulatorTests {
    static let configuration = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("config")

    static func load(_ file: String) throws -> MultiSlitSpectrograph {
        try MultiSlitSpectrograph.load(configurationDirectory: configuration, modelFile: file)
    }

    @Test("The MOS mask has tens of slits and reference holes whose spectra stay on the detector and never overlap")
    func slitsApart() throws {
        // Given the SIMMOS model
        let s = try Self.load("simmos.yaml")
        #expect(s.mask.slits.count >= 20 && s.mask.holes.count >= 2)
        // When every aperture's edges are taken on every 16th row
        for y in stride(from: 0.0, to: 512, by: 16) {
            let spans = s.apertures.indices.map { s.edges(aperture: $0, row: y) }.sorted { $0.low < $1.low }
            // Then they lie on the detector, 6 px or more apart
            #expect(spans.first!.low > 4 && spans.last!.high < 795)
            for (a, b) in zip(spans, spans.dropFirst()) { #expect(b.low - a.high > 6, "row \(y): \(a) and \(b)") }
        }
    }

    @Test("A noise-free flat crosses half its level at the true edges, and an arc line's centroid is its true row")
    func renderingMatchesTruth() throws {
        // Given noise-free flat and arc light of the SIMMOS mask
        let s = try Self.load("simmos.yaml")
        let renderer = MultiSlitFrameRenderer(s)
        let flat = renderer.expectedElectrons(.flat(scale: 1))
        let arc = renderer.expectedElectrons(.arc(scale: 1))
        let width = s.model.detector.width
        for index in [0, 7, 19] {
            // When the flat's profile along a row is cut at half its in-slit level
            let row = 300
            let edge = s.edges(aperture: index, row: Double(row))
            let middle = Int(((edge.low + edge.high) / 2).rounded())
            let level = flat[row * width + middle]
            var x = middle
            while flat[row * width + x] > level / 2 { x -= 1 }
            let crossing = Double(x) + (level / 2 - flat[row * width + x]) / (flat[row * width + x + 1] - flat[row * width + x])
            // Then the crossing is the true edge (linear interpolation of a blurred step: 0.03 px)
            #expect(abs(crossing - edge.low) < 0.03, "aperture \(index): \(crossing) vs \(edge.low)")
            // And the reference line's centroid along the middle column is its true row
            let truth = s.lineRow(aperture: index, wavelength: s.model.optics.referenceWavelength, column: Double(middle)).y
            let rows = Int(truth) - 8...Int(truth) + 8
            let weights = rows.map { arc[$0 * width + middle] }
            let centroid = zip(rows, weights).map { Double($0) * $1 }.reduce(0, +) / weights.reduce(0, +)
            #expect(abs(centroid - truth) < 0.002, "aperture \(index): \(centroid) vs \(truth)")
        }
    }

    @Test("The long-slit mode lights one slit whose reference-line image is its OPT position")
    func longSlit() throws {
        // Given the SIMLS model (one 60 mm slit)
        let s = try Self.load("simls.yaml")
        #expect(s.mask.isLongSlit)
        // When the reference line is followed to the slit's centre column
        let centre = s.opticalPosition(x: 0, y: 0)
        let line = s.lineRow(aperture: 0, wavelength: s.model.optics.referenceWavelength, column: centre.x)
        // Then it is the OPT position of the slit's centre and the slit spans ~240 px
        #expect(abs(line.y - centre.y) < 1e-9 && abs(line.s) < 1e-9)
        let edge = s.edges(aperture: 0, row: centre.y)
        #expect(abs(edge.high - edge.low - 60 * 3.96) < 0.01)
    }
}
