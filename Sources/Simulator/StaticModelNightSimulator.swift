import CalibCore
import FITS
import Foundation
import Yams

/// Writes one night of a `StaticModelInstrument`: per arm, `biasCount`
/// biases, per continuum lamp a flat template and an order-definition frame,
/// a single-pinhole and a multi-pinhole arc at the chosen binning. Lines sit
/// where the shipped pinhole map puts them, continua where the shipped
/// nominal model and spectral format put the orders, all displaced by a night
/// shift drawn from the seed (uniform in ±`maxShift` px on each axis); flats
/// carry a pixel-response map. The truth is written beside them:
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
    /// Inject the arm's static bad pixels (`<INSTRUMENT>_<ARM>[_<BX>x<BY>]_bad_pixels.csv`, the unbinned file's pixels
    /// binned when that binning has none) as pixels of response `badPixelResponse` on every illuminated frame;
    /// off by default, so that nights without defects measure false detections.
    public var injectBadPixels = false
    /// Response of an injected bad pixel (fraction of a normal pixel's): 0.3 is ~70 PRNU σ low.
    public var badPixelResponse = 0.3
    /// The arm's nominal model at a binning (`<INSTRUMENT>_<ARM>[_<BX>x<BY>]_nominal_dispersion.json`, read by the
    /// caller, which has the fitting code): arguments arm, binx, biny.
    public var formatModel: @Sendable (String, Int, Int) throws -> any EchelleFormatModel

    public init(modelPath: String, staticDirectory: String,
                formatModel: @escaping @Sendable (String, Int, Int) throws -> any EchelleFormatModel) throws {
        self.formatModel = formatModel
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

    /// The lines as rendered (before the night shift): the single-pinhole arc's (central pinhole) and the
    /// multi-pinhole arc's (every pinhole). The map's own positions, or with the arm's `linesOnModel` the
    /// nominal model's, the central pinhole of the single-pinhole arc moved by the map's median offset from it.
    public func renderedLines(arm: String, binx: Int, biny: Int) throws -> (single: PinholeMap, multi: PinholeMap) {
        let map = try map(arm: arm, binx: binx, biny: biny)
        guard instrument.arm(named: arm)?.linesOnModel == true else { return (map.centralPinhole, map) }
        let model = try formatModel(arm, binx, biny)
        func onModel(_ m: PinholeMap, offset: (x: Double, y: Double)) -> PinholeMap {
            var out = m
            out.entries = m.entries.map { e in
                var moved = e
                let p = model.position(order: e.order, wavelength: e.wavelength, slit: e.slit)
                moved.x = p.x + offset.x; moved.y = p.y + offset.y
                return moved
            }
            return out
        }
        let central = map.centralPinhole
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s.isEmpty ? 0 : s[s.count / 2] }
        let offsets = central.entries.map { e -> (Double, Double) in
            let p = model.position(order: e.order, wavelength: e.wavelength, slit: e.slit)
            return (e.x - p.x, e.y - p.y)
        }
        let offset = (x: median(offsets.map(\.0)), y: median(offsets.map(\.1)))
        return (onModel(central, offset: offset), onModel(map, offset: (0, 0)))
    }

    /// The arm's static bad pixels at this binning (trimmed, oriented frame, the maps'), nil when none is shipped.
    public func badPixels(arm: String, binx: Int, biny: Int) throws -> Set<StaticBadPixels.Pixel>? {
        let base = "\(staticDirectory)/\(instrument.instrument)_\(arm)"
        let own = "\(base)_\(binx)x\(biny)_bad_pixels.csv", unbinned = "\(base)_bad_pixels.csv"
        if FileManager.default.fileExists(atPath: own) { return Set(try StaticBadPixels.read(path: own).pixels) }
        guard FileManager.default.fileExists(atPath: unbinned) else { return nil }
        return Set(try StaticBadPixels.read(path: unbinned).pixels.map { .init(x: $0.x / binx, y: $0.y / biny) })
    }

    public struct ArmTruth: Sendable, Codable {
        public var shiftX: Double, shiftY: Double, lines: Int, binx: Int, biny: Int
        /// Lines of the multi-pinhole arc, and the seed of the arm's pixel-response map.
        public var multiPinholeLines: Int, responseSeed: UInt64
        /// Bad pixels injected (`badPixels(arm:binx:biny:)`, response `badPixelResponse`); nil: none.
        public var badPixels: Int?
    }

    /// The arm's format tonight (binning and shift applied): the truth of order centres and edges.
    public func format(arm: String, binx: Int, biny: Int, shift: (x: Double, y: Double)) throws -> StaticModelArmFormat {
        guard let armModel = instrument.arm(named: arm) else {
            throw ConfigurationError(file: "simulator", key: "arms", message: "no arm '\(arm)'")
        }
        let formatPath = "\(staticDirectory)/\(instrument.instrument)_\(arm)_spectral_format.csv"
        return StaticModelArmFormat(model: try formatModel(arm, binx, biny), format: try SpectralFormat.read(path: formatPath),
                                    shift: shift, slitHalfLength: armModel.slitHalfLength)
    }

    /// One frame to write: its DPR triplet, signal (nil: a bias), exposure, template place and slit.
    private struct Exposure {
        var kind: StaticModelInstrument.FrameKind
        var signal: [Float]?
        var exposure: Double
        var index: Int
        var count: Int
        var slit: String
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
            let lines = try renderedLines(arm: arm.name, binx: binx, biny: biny)
            let arc = renderer.arcSignal(map: lines.single, shift: shift)
            let multi = renderer.arcSignal(map: lines.multi, shift: shift, allPinholes: true)
            let format = try format(arm: arm.name, binx: binx, biny: biny, shift: shift)
            let responseSeed = seed &+ UInt64(armIndex + 1) &* 7919
            var response = renderer.pixelResponse(seed: responseSeed)
            var injected: Int?
            if injectBadPixels, let bad = try badPixels(arm: arm.name, binx: binx, biny: biny) {
                injected = renderer.inject(bad, response: badPixelResponse, into: &response)
            }
            truth[arm.name] = ArmTruth(shiftX: shift.x, shiftY: shift.y, lines: arc.centres.count, binx: binx, biny: biny,
                                       multiPinholeLines: multi.centres.count, responseSeed: responseSeed, badPixels: injected)
            let f = instrument.frames
            let biases = arm.biasCount ?? biasCount
            var exposures: [Exposure] = (0..<biases).map {
                Exposure(kind: f.bias, signal: nil, exposure: 0, index: $0 + 1, count: biases, slit: arm.pinholeSlit)
            }
            let size = arm.orientation.orientedSize(width: renderer.rawWidth, height: renderer.rawHeight)
            func darkSignal(_ exposure: Double) -> [Float] {
                [Float](repeating: Float(arm.darkCurrent * exposure / arm.gain), count: size.width * size.height)
            }
            if arm.darkCount > 0 {
                let dark = darkSignal(arm.darkExposure)
                exposures += (0..<arm.darkCount).map {
                    Exposure(kind: f.dark, signal: dark, exposure: arm.darkExposure, index: $0 + 1, count: arm.darkCount, slit: arm.pinholeSlit)
                }
            }
            for lamp in arm.flatLamps {
                let flat = renderer.continuumSignal(format: format, lamp: lamp, pinhole: false)
                let kind = StaticModelInstrument.FrameKind(catg: f.flat.catg, type: lamp.flatType, tech: f.flat.tech)
                exposures += (0..<lamp.flatCount).map {
                    Exposure(kind: kind, signal: flat, exposure: lamp.flatExposure, index: $0 + 1, count: lamp.flatCount, slit: arm.flatSlit)
                }
                if let type = lamp.orderDefinitionType {
                    let kind = StaticModelInstrument.FrameKind(catg: f.orderDefinition.catg, type: type, tech: f.orderDefinition.tech)
                    exposures.append(Exposure(kind: kind, signal: renderer.continuumSignal(format: format, lamp: lamp, pinhole: true),
                                              exposure: lamp.orderDefinitionExposure, index: 1, count: 1, slit: arm.pinholeSlit))
                }
            }
            exposures.append(Exposure(kind: f.arcPinhole, signal: arc.signal, exposure: 10, index: 1, count: 1, slit: arm.pinholeSlit))
            exposures.append(Exposure(kind: f.arcMultiPinhole, signal: multi.signal, exposure: 10, index: 1, count: 1, slit: arm.pinholeSlit))
            if arm.lampOff == true {
                // Each lamp frame with the dark it sits on, then its lamp-off twin (same template, exposure and TECH).
                guard let off = f.lampOff else {
                    throw ConfigurationError(file: "simulator", key: "frames.lampOff", message: "arm \(arm.name) takes lamp-off frames: give their CATG and TYPE")
                }
                exposures = exposures.flatMap { e -> [Exposure] in
                    guard e.kind.type != f.bias.type, e.kind.type != f.dark.type, let signal = e.signal else { return [e] }
                    let dark = darkSignal(e.exposure)
                    var on = e, lampOff = e
                    on.signal = zip(signal, dark).map { $0 + $1 }
                    on.index = 2 * e.index - 1; on.count = 2 * e.count
                    lampOff.kind = StaticModelInstrument.FrameKind(catg: off.catg, type: off.type, tech: e.kind.tech)
                    lampOff.signal = dark
                    lampOff.index = 2 * e.index; lampOff.count = 2 * e.count
                    return [on, lampOff]
                }
            }
            var templateStart = NightSimulator.isoDate(mjd: clock)
            for (n, e) in exposures.enumerated() {
                let (kind, signal, index, exposure) = (e.kind, e.signal, e.index, e.exposure)
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
                let omitted = Set(arm.omitKeywords ?? [])
                if !omitted.contains("binx") { h.set(k.binx, .integer(Int64(binx)), comment: "binning along x") }
                if !omitted.contains("biny") { h.set(k.biny, .integer(Int64(biny)), comment: "binning along y") }
                h.set(arm.readSpeedKeyword ?? k.readSpeed, .string(arm.readSpeed), comment: "readout mode")
                if !omitted.contains("prescan") { h.set(k.prescan, .integer(Int64(renderer.prescanColumns)), comment: "prescan columns (binned)") }
                if !omitted.contains("overscan") { h.set(k.overscan, .integer(Int64(renderer.overscanColumns)), comment: "overscan columns (binned)") }
                if !omitted.contains("gain") { h.set(k.gain, .real(arm.gain), comment: "[e-/ADU] conversion factor") }
                if let ndit = arm.ndit, let key = k.ndit { h.set(key, .integer(Int64(ndit)), comment: "sub-integrations") }
                h.set(arm.slitKeyword, .string(e.slit), comment: "slit")
                h.set("ESO TPL START", .string(templateStart), comment: "template start time")
                h.set("ESO TPL NEXP", .integer(Int64(e.count)), comment: "exposures in template")
                h.set("ESO TPL EXPNO", .integer(Int64(index)), comment: "exposure number in template")
                // Every illuminated frame sees the pixel response; a flat's is what the master flat measures.
                let pixels = renderer.raw(signal: signal, response: signal == nil ? nil : response, seed: seed &+ UInt64(armIndex * 1000 + n + 1))
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
