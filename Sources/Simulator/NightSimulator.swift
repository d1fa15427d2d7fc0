import CalibCore
import FITS
import Foundation
import Yams

/// Writes one simulated night: the raw frames a SIMECH night produces, with
/// ESO-convention headers, and beside them the truth the recipes are judged
/// against.
///
/// Layout under the output directory:
///
///     raw/<night>/SIMECH.<DATE-OBS>.fits      raw frames (BITPIX 16, BZERO 32768)
///     truth/<night>/truth.json                scalars, geometry, frame list
///     truth/<night>/<ARM>_prnu.fits           pixel response map (science area)
///
/// Raw and truth are kept in sibling trees so that a daemon watching `raw/`
/// never sees the truth.
public struct NightSimulator: Sendable {
    public var model: EchelleInstrumentModel
    public var lines: [ArcLine]
    public var plan: NightPlan

    public init(model: EchelleInstrumentModel, lines: [ArcLine], plan: NightPlan = NightPlan()) {
        self.model = model; self.lines = lines; self.plan = plan
    }

    /// Loads the instrument model (YAML) and the laboratory line list.
    public init(modelPath: String, lineListPath: String, plan: NightPlan = NightPlan()) throws {
        let text = try String(contentsOfFile: modelPath, encoding: .utf8)
        let model: EchelleInstrumentModel
        do { model = try YAMLDecoder().decode(EchelleInstrumentModel.self, from: text) } catch {
            throw ConfigurationError.from(error, file: modelPath)
        }
        let lines = ArcLineList.parse(try String(contentsOfFile: lineListPath, encoding: .utf8))
        self.init(model: model, lines: lines, plan: plan)
    }

    public struct Result: Sendable {
        public var rawDirectory: String
        public var truthDirectory: String
        public var files: [String]
    }

    /// Simulates `night` for the named arms (all when empty).
    ///
    /// The night's seed is derived from `seed` and the date, so each night of
    /// a simulated week differs (instrument displacement, noise) yet every
    /// run with the same arguments writes identical pixels.
    public func simulate(into directory: String, night: ObservingNight, seed: UInt64, size: Int, arms: [String] = [],
                         siteLongitudeDeg: Double = -70.73, progress: (String) -> Void = { _ in }) throws -> Result {
        let rawDirectory = "\(directory)/raw/\(night)"
        let truthDirectory = "\(directory)/truth/\(night)"
        for d in [rawDirectory, truthDirectory] { try FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true) }
        let chosen = arms.isEmpty ? model.arms : try arms.map { name in
            guard let arm = model.arm(named: name) else {
                throw ConfigurationError(file: "calibctl simulate", key: "--arms",
                                         message: "no arm '\(name)' (known: \(model.arms.map(\.name).joined(separator: ", ")))")
            }
            return arm
        }
        let nightSeed = Self.mix(seed, UInt64(night.startDateMJD))
        // Calibrations start at 14:00 local mean solar time, as an afternoon calibration plan would.
        var clock = night.startDateMJD + (14 - siteLongitudeDeg / 15) / 24
        var files: [String] = []
        var truth = NightTruth(instrument: model.name, night: night.description, seed: seed, size: size, arms: [:])
        for (armIndex, armModel) in chosen.enumerated() {
            let armSeed = Self.mix(nightSeed, UInt64(armIndex + 1))
            let arm = SimulatedArm(model: armModel, size: size, nightSeed: armSeed)
            // The detector's defects belong to the instrument, not the night.
            let detector = SimulatedDetector(model: armModel, size: size, seed: Self.mix(seed, UInt64(armIndex + 101)))
            let renderer = FrameRenderer(arm: arm, detector: detector, lines: lines)
            var frames: [FrameTruth] = []
            for block in plan.blocks {
                // An arm with one flat lamp takes no D2 flats.
                if block.kind == .d2Flat && armModel.d2FlatLamp == nil { continue }
                let templateStart = Self.isoDate(mjd: clock)
                let lampExposure = switch block.kind {
                case .orderDefinition: armModel.orderDefinitionLamp.referenceExposureSeconds
                case .d2Flat: armModel.d2FlatLamp!.referenceExposureSeconds
                default: armModel.flatLamp.referenceExposureSeconds
                }
                let exposureTime = block.exposureTime ?? lampExposure
                for index in 0..<block.count {
                    let frameSeed = Self.mix(armSeed, UInt64(files.count + 1) &* 7919)
                    let frame = renderer.render(block.exposure(at: index), exposureTime: exposureTime, seed: frameSeed)
                    let dateObs = Self.isoDate(mjd: clock)
                    let name = "\(model.name).\(dateObs).fits"
                    let path = "\(rawDirectory)/\(name)"
                    var header = Self.header(block: block, exposureTime: exposureTime, arm: arm, armName: armModel.name, mjd: clock, dateObs: dateObs,
                                             templateStart: templateStart, index: index + 1, instrument: model.name,
                                             gain: detector.truth.gain)
                    header.set("CALIBD SIM SEED", .integer(Int64(bitPattern: frameSeed)), comment: "simulator seed of this frame")
                    try Self.writeRaw(frame, header: header, to: path)
                    files.append(path)
                    frames.append(FrameTruth(file: name, kind: block.kind.rawValue, exposureTime: exposureTime,
                                             lampScale: block.lampScale(at: index), mjd: clock, cosmicRayPixels: frame.cosmicRayPixels))
                    progress("\(armModel.name) \(block.kind.rawValue) \(index + 1)/\(block.count) \(name)")
                    clock += (exposureTime + plan.readoutSeconds) / 86400
                }
            }
            try Self.writePRNU(detector.truth, to: "\(truthDirectory)/\(armModel.name)_prnu.fits")
            truth.arms[armModel.name] = ArmNightTruth(
                detector: DetectorTruthSummary(detector.truth), geometry: arm.truth(sampleStep: max(1, size / 64)), frames: frames)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(truth).write(to: URL(fileURLWithPath: "\(truthDirectory)/truth.json"))
        return Result(rawDirectory: rawDirectory, truthDirectory: truthDirectory, files: files)
    }

    static func header(block: NightPlan.Block, exposureTime: Double, arm: SimulatedArm, armName: String, mjd: Double, dateObs: String,
                       templateStart: String, index: Int, instrument: String, gain: Double) -> FITSHeader {
        var h = FITSHeader()
        h.set("INSTRUME", .string(instrument), comment: "instrument")
        h.set("TELESCOP", .string("SIMTEL"), comment: "telescope")
        h.set("OBJECT", .string(block.kind.object), comment: "target or calibration")
        h.set("DATE-OBS", .string(dateObs), comment: "UTC start of exposure")
        h.set("MJD-OBS", .real(mjd), comment: "MJD (UTC) start of exposure")
        h.set("EXPTIME", .real(exposureTime), comment: "[s] exposure time")
        h.set("ESO DPR CATG", .string(block.kind.dprCatg), comment: "observation category")
        h.set("ESO DPR TYPE", .string(block.kind.dprType), comment: "observation type")
        h.set("ESO DPR TECH", .string(block.kind.dprTech), comment: "observation technique")
        h.set("ESO SEQ ARM", .string(armName), comment: "spectrograph arm")
        h.set("ESO DET BINX", .integer(Int64(arm.binning)), comment: "binning factor along x")
        h.set("ESO DET BINY", .integer(Int64(arm.binning)), comment: "binning factor along y")
        h.set("ESO DET READ SPEED", .string("100k/1pt/hg"), comment: "readout mode")
        h.set("ESO DET OUT1 GAIN", .real(gain), comment: "[e-/ADU] conversion factor")
        h.set("ESO DET OUT1 PRSCX", .integer(0), comment: "prescan columns")
        h.set("ESO DET OUT1 OVSCX", .integer(Int64(arm.overscanColumns)), comment: "overscan columns at high x")
        h.set("ESO TPL ID", .string("SIMECH_\(armName)_cal_\(block.kind.rawValue)"), comment: "template")
        h.set("ESO TPL START", .string(templateStart), comment: "template start time")
        h.set("ESO TPL NEXP", .integer(Int64(block.count)), comment: "exposures in template")
        h.set("ESO TPL EXPNO", .integer(Int64(index)), comment: "exposure number in template")
        if let lamp = block.kind.lamp { h.set("ESO INS LAMP1 NAME", .string(lamp), comment: "calibration lamp") }
        return h
    }

    static func writeRaw(_ frame: RawFrame, header: FITSHeader, to path: String) throws {
        // Write under a temporary name and rename, as an instrument's file transfer would,
        // so a watcher never takes a half-written frame.
        let temporary = (path as NSString).deletingLastPathComponent + "/." + (path as NSString).lastPathComponent + ".part"
        let file = try FITSFile.create(temporary, overwrite: true)
        try file.writeImage(frame.pixels, width: frame.width, height: frame.height, header: header)
        try file.writeChecksums()
        try file.close()
        guard rename(temporary, path) == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path]) }
    }

    static func writePRNU(_ truth: DetectorTruth, to path: String) throws {
        let file = try FITSFile.create(path, overwrite: true)
        var header = FITSHeader()
        header.set("BUNIT", .string(""), comment: "relative pixel response (mean 1), science area")
        try file.writeImage(truth.prnu, width: truth.size, height: truth.size, header: header, extensionName: nil)
        try file.writeChecksums()
        try file.close()
    }

    /// `2026-11-21T18:03:12.345`
    static func isoDate(mjd: Double) -> String {
        let night = ObservingNight(mjdDate: mjd)
        var seconds = (mjd - night.startDateMJD) * 86400
        seconds = (seconds * 1000).rounded() / 1000
        let h = Int(seconds / 3600), m = Int(seconds.truncatingRemainder(dividingBy: 3600) / 60)
        let s = seconds - Double(h * 3600 + m * 60)
        return "\(night)T" + String(format: "%02d:%02d:%06.3f", h, m, s)
    }

    /// SplitMix64 of two words: a well-mixed seed from a seed and a counter.
    static func mix(_ a: UInt64, _ b: UInt64) -> UInt64 {
        var z = a &+ b &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
