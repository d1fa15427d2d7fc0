import CalibCore
import FITS
import Foundation

/// Writes one night of the simulated multi-slit (or long-slit) spectrograph: `biasCount`
/// biases, `flatCount` through-slit flats and one arc through the mask, as 16-bit FITS in
/// calibd's orientation, with the truth beside them:
///
///     raw/<night>/<NAME>.<DATE-OBS>.fits     INSTRUME, DATE-OBS, MJD-OBS, EXPTIME, OBSTYPE (BIAS, FLAT, ARC),
///                                            MASKNAME, GRATING
///     truth/<night>/truth.json               per aperture: its OPT positions at λ_ref (ends and centre)
///                                            and its flat edges every `truthRowStep` rows
///
/// Deterministic for a seed.
public struct MultiSlitNightSimulator: Sendable {
    public var spectrograph: MultiSlitSpectrograph
    public var biasCount = 5
    public var flatCount = 3
    public var truthRowStep = 16
    /// The grating's name in the headers (the setup key).
    public var grating = "G600"

    public init(_ spectrograph: MultiSlitSpectrograph) { self.spectrograph = spectrograph }

    public struct ApertureTruth: Codable, Sendable {
        public var id: String
        public var isHole: Bool
        /// Mask points (mm) and their detector positions (px) at λ_ref: the slit's two ends then its centre.
        public var maskPoints: [[Double]]
        public var opticalPositions: [[Double]]
        /// Rows and the two edges (low x, high x) there, px.
        public var edgeRows: [Double]
        public var lowEdges: [Double]
        public var highEdges: [Double]
    }

    public struct Truth: Codable, Sendable {
        public var instrument: String
        public var mask: String
        public var referenceWavelengthNanometres: Double
        public var flipX: Bool
        public var flipY: Bool
        public var apertures: [ApertureTruth]
    }

    public func truth() -> Truth {
        let s = spectrograph
        let apertures = s.apertures.enumerated().map { index, slit -> ApertureTruth in
            let points = slit.ends + [(slit.x, slit.y)]
            let rows = stride(from: 0.0, to: Double(s.model.detector.height), by: Double(truthRowStep)).map { $0 }
            let edges = rows.map { s.edges(aperture: index, row: $0) }
            return ApertureTruth(id: slit.id, isHole: index >= s.mask.slits.count, maskPoints: points.map { [$0.x, $0.y] },
                                 opticalPositions: points.map { let p = s.opticalPosition(x: $0.x, y: $0.y); return [p.x, p.y] },
                                 edgeRows: rows, lowEdges: edges.map(\.low), highEdges: edges.map(\.high))
        }
        return Truth(instrument: s.model.name, mask: s.mask.name, referenceWavelengthNanometres: s.model.optics.referenceWavelength,
                     flipX: s.model.optics.flipX, flipY: s.model.optics.flipY, apertures: apertures)
    }

    /// Writes the night; returns the raw files in the order taken.
    public func simulate(into directory: String, night: ObservingNight, seed: UInt64) throws -> [String] {
        let rawDirectory = "\(directory)/raw/\(night)", truthDirectory = "\(directory)/truth/\(night)"
        for d in [rawDirectory, truthDirectory] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let renderer = MultiSlitFrameRenderer(spectrograph)
        let frames: [(kind: MultiSlitFrameRenderer.Kind, type: String, exposure: Double)] =
            Array(repeating: (.bias, "BIAS", 0), count: biasCount) + Array(repeating: (.flat(scale: 1), "FLAT", 10), count: flatCount)
            + [(.arc(scale: 1), "ARC", 20)]
        var clock = night.startDateMJD + 20.0 / 24   // 20:00 UTC on the night's date
        var files: [String] = []
        for (n, frame) in frames.enumerated() {
            let image = renderer.render(frame.kind, seed: seed &* 1000 &+ UInt64(n + 1))
            let pixels = image.pixels.map { UInt16(clamping: Int($0.rounded())) }
            let dateObs = NightSimulator.isoDate(mjd: clock)
            var h = FITSHeader()
            h.set("INSTRUME", .string(spectrograph.model.name), comment: "instrument")
            h.set("DATE-OBS", .string(dateObs), comment: "UTC start of exposure")
            h.set("MJD-OBS", .real(clock), comment: "MJD (UTC) start of exposure")
            h.set("EXPTIME", .real(frame.exposure), comment: "[s] exposure time")
            h.set("OBSTYPE", .string(frame.type), comment: "frame type")
            h.set("MASKNAME", .string(spectrograph.mask.name), comment: "slit mask in the beam")
            h.set("GRATING", .string(grating), comment: "disperser")
            let path = "\(rawDirectory)/\(spectrograph.model.name).\(dateObs).fits"
            try NightSimulator.writeRaw(RawFrame(width: image.width, height: image.height, pixels: pixels,
                                                 cosmicRayPixels: 0, cosmicRayScienceIndices: []), header: h, to: path)
            files.append(path)
            clock += 60 / 86400
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(truth()).write(to: URL(fileURLWithPath: "\(truthDirectory)/truth.json"))
        return files
    }
}
