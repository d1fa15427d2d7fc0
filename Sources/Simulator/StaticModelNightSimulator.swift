import CalibCore
import FITS
import Foundation
import Yams

/// Writes one night of a `StaticModelInstrument`: per arm, `biasCount`
/// biases and one single-pinhole arc at the chosen binning, the arc's lines
/// where the shipped pinhole map puts them plus a night shift drawn from the
/// seed (uniform in ±`maxShift` px on each axis), and the truth beside them:
///
///     raw/<night>/<INSTRUMENT>.<DATE-OBS>.fits
///     truth/<night>/truth.json   {"arms": {ARM: {"shiftX", "shiftY", "lines", "binx", "biny"}}}
///
/// Deterministic for a seed.
public struct StaticModelNightSimulator: Sendable {
    public var instrument: StaticModelInstrument
    /// `config/static`, where `<INSTRUMENT>_<ARM>[_<BX>x<BY>]_pinhole_map.csv` live.
    public var staticDirectory: String
    public var biasCount = 5
    public var maxShift = 1.5

    public init(modelPath: String, staticDirectory: String) throws {
        let text = try String(contentsOfFile: modelPath, encoding: .utf8)
        do { instrument = try YAMLDecoder().decode(StaticModelInstrument.self, from: text) } catch {
            throw ConfigurationError.from(error, file: modelPath)
        }
        self.staticDirectory = staticDirectory
    }

    /// The arm's map at this binning: its own file when shipped, else the unbinned one rebinned per axis.
    public func map(arm: String, binx: Int, biny: Int) throws -> PinholeMap {
        let base = "\(staticDirectory)/\(instrument.instrument)_\(arm)"
        let own = "\(base)_\(binx)x\(biny)_pinhole_map.csv"
        let path = FileManager.default.fileExists(atPath: own) ? own : "\(base)_pinhole_map.csv"
        return try PinholeMap.read(path: path).rebinned(x: binx, y: biny)
    }

    public struct ArmTruth: Sendable, Codable {
        public var shiftX: Double, shiftY: Double, lines: Int, binx: Int, biny: Int
    }

    public func simulate(into directory: String, night: ObservingNight, seed: UInt64, arms: [String], binx: Int, biny: Int) throws -> [String] {
        let rawDirectory = "\(directory)/raw/\(night)", truthDirectory = "\(directory)/truth/\(night)"
        for d in [rawDirectory, truthDirectory] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let chosen = try (arms.isEmpty ? instrument.arms.map(\.name) : arms).map { name in
            guard let arm = instrument.arm(named: name) else {
                throw ConfigurationError(file: "calibctl simulate", key: "--arms",
                                         message: "no arm '\(name)' (known: \(instrument.arms.map(\.name).joined(separator: ", ")))")
            }
            return arm
        }
        var clock = night.startDateMJD + (14 - instrument.siteLongitudeDeg / 15) / 24
        var files: [String] = []
        var truth: [String: ArmTruth] = [:]
        for (armIndex, arm) in chosen.enumerated() {
            var random = Xoshiro256StarStar(keys: seed, UInt64(night.startDateMJD), UInt64(armIndex + 1))
            let shift = (x: (2 * random.uniform() - 1) * maxShift, y: (2 * random.uniform() - 1) * maxShift)
            let renderer = StaticModelFrameRenderer(arm: arm, binx: binx, biny: biny)
            let map = try map(arm: arm.name, binx: binx, biny: biny)
            let arc = renderer.arcSignal(map: map, shift: shift)
            truth[arm.name] = ArmTruth(shiftX: shift.x, shiftY: shift.y, lines: arc.centres.count, binx: binx, biny: biny)
            let kinds: [(StaticModelInstrument.FrameKind, [Float]?, Int, Double)] =
                (0..<biasCount).map { (instrument.frames.bias, nil, $0 + 1, 0) } + [(instrument.frames.arcPinhole, arc.signal, 1, 10)]
            var templateStart = NightSimulator.isoDate(mjd: clock)
            for (n, (kind, signal, index, exposure)) in kinds.enumerated() {
                if index == 1 { templateStart = NightSimulator.isoDate(mjd: clock) }
                let dateObs = NightSimulator.isoDate(mjd: clock)
                var h = FITSHeader()
                let k = instrument.keywords
                h.set("INSTRUME", .string(instrument.instrumeValue), comment: "instrument")
                h.set("DATE-OBS", .string(dateObs), comment: "UTC start of exposure")
                h.set("MJD-OBS", .real(clock), comment: "MJD (UTC) start of exposure")
                h.set("EXPTIME", .real(exposure), comment: "[s] exposure time")
                h.set("ESO DPR CATG", .string(kind.catg), comment: "observation category")
                h.set("ESO DPR TYPE", .string(kind.type), comment: "observation type")
                h.set("ESO DPR TECH", .string(kind.tech), comment: "observation technique")
                h.set(k.arm, .string(arm.name), comment: "spectrograph arm")
                h.set(k.binx, .integer(Int64(binx)), comment: "binning along x")
                h.set(k.biny, .integer(Int64(biny)), comment: "binning along y")
                h.set(k.readSpeed, .string(arm.readSpeed), comment: "readout mode")
                h.set(k.prescan, .integer(Int64(renderer.prescanColumns)), comment: "prescan columns (binned)")
                h.set(k.overscan, .integer(Int64(renderer.overscanColumns)), comment: "overscan columns (binned)")
                h.set(k.gain, .real(arm.gain), comment: "[e-/ADU] conversion factor")
                h.set(arm.slitKeyword, .string("Pin_0.5"), comment: "slit")
                h.set("ESO TPL START", .string(templateStart), comment: "template start time")
                h.set("ESO TPL NEXP", .integer(Int64(signal == nil ? biasCount : 1)), comment: "exposures in template")
                h.set("ESO TPL EXPNO", .integer(Int64(index)), comment: "exposure number in template")
                let pixels = renderer.raw(signal: signal, seed: seed &+ UInt64(armIndex * 1000 + n + 1))
                let path = "\(rawDirectory)/\(instrument.instrument).\(dateObs).fits"
                try NightSimulator.writeRaw(RawFrame(width: renderer.rawWidth, height: renderer.rawHeight, pixels: pixels,
                                                     cosmicRayPixels: 0, cosmicRayScienceIndices: []), header: h, to: path)
                files.append(path)
                clock += 60 / 86400
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(["arms": truth]).write(to: URL(fileURLWithPath: "\(truthDirectory)/truth.json"))
        return files
    }
}
