import CalibCore
import FITS
import Foundation
import Recipes

/// What the arc recipes read around their numerical core: the first input
/// frame with the master bias subtracted and the overscan cut off, its
/// binning, gain and exposure time, and the instrument's static pinhole map
/// and, when it ships one, its nominal dispersion model.
struct ArcFrameLoader {
    var image: Image
    var header: FITSHeader
    var binning: Int
    var gain: Double
    var exposureTime: Double
    var map: PinholeMap
    /// The nominal model at this binning (`<config>/static/<NAME>_nominal_dispersion.json`), if shipped.
    var nominal: NominalDispersion?
    /// Per pixel of `image`: the raw value reached the detector's saturation level.
    var saturated: [Bool]

    init(_ context: JobContext) throws {
        let stack = try FITSFrameStack(paths: try context.inputPaths, orientation: context.profile.orientation(of:))
        header = stack.headers[0]
        let raw = try stack.image(0)
        guard let biasPath = context.calibrations[.masterBias]?.path else {
            throw PipelineError.inputMismatch("no master bias was chosen for this arc frame")
        }
        let biasFile = try FITSFile.open(biasPath)
        let bias: [Float] = try biasFile.readImage()
        try biasFile.close()
        guard bias.count == raw.pixels.count else {
            throw PipelineError.inputMismatch("master bias \(biasPath) has \(bias.count) pixels, the arc frame \(raw.pixels.count)")
        }
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        var subtracted = raw
        for i in subtracted.pixels.indices { subtracted.pixels[i] -= bias[i] }
        image = subtracted.cropped(x: regions.science, y: 0..<raw.height)
        // Judged on the raw value: after the bias is removed the level differs from pixel to pixel.
        let level = Float(context.profile.detector.saturationADU ?? 65535)
        var mask = [Bool](repeating: false, count: image.width * image.height)
        for y in 0..<raw.height {
            for (i, x) in regions.science.enumerated() where raw.pixels[y * raw.width + x] >= level { mask[y * image.width + i] = true }
        }
        saturated = mask
        gain = DetectorGeometry.gain(header: header, layout: context.profile.detector)
        let frameHeader = header
        // The profile's own setup reading, which knows that a setup may live in one of several keywords.
        let frameBinning = context.profile.setup(of: frameHeader)["binx"].flatMap { Int($0) } ?? 1
        binning = frameBinning
        exposureTime = frameHeader.double(context.profile.exposureTimeKey) ?? .nan
        map = try Self.pinholeMap(context: context, header: frameHeader).rebinned(to: frameBinning)
        let nominalPath = Self.staticPath(context: context, header: frameHeader, suffix: "_nominal_dispersion.json")
        nominal = FileManager.default.fileExists(atPath: nominalPath)
            ? try NominalDispersion.read(path: nominalPath).rebinned(to: frameBinning) : nil
    }

    /// The static pinhole map of the instrument (and arm, when the profile
    /// has an `arm` setup key): `<config>/static/<INSTRUMENT>[_<ARM>]_pinhole_map.csv`,
    /// `<config>` being the directory above the profile's own.
    static func pinholeMap(context: JobContext, header: FITSHeader) throws -> PinholeMap {
        let path = staticPath(context: context, header: header, suffix: pinholeMapSuffix)
        guard FileManager.default.fileExists(atPath: path) else {
            throw PipelineError.configuration("static pinhole map \(path) is missing")
        }
        return try PinholeMap.read(path: path)
    }

    /// The static pinhole map's file-name suffix.
    static let pinholeMapSuffix = "_pinhole_map.csv"

    /// `<config>/static/<INSTRUMENT>[_<ARM>]<suffix>`.
    static func staticPath(context: JobContext, header: FITSHeader, suffix: String) -> String {
        var arm: String?
        if context.profile.setupKeys["arm"] != nil, let value = context.profile.setup(of: header)["arm"], value != "UNDEFINED" {
            arm = value
        }
        return staticPath(profile: context.profile, arm: arm, suffix: suffix)
    }

    /// `<config>/static/<INSTRUMENT>[_<ARM>]<suffix>`, `<config>` being the directory above the profile's own.
    static func staticPath(profile: InstrumentProfile, arm: String?, suffix: String) -> String {
        (staticDirectory(profile: profile) as NSString).appendingPathComponent(profile.name + (arm.map { "_\($0)" } ?? "") + suffix)
    }

    static func staticDirectory(profile: InstrumentProfile) -> String {
        let profileDirectory = (profile.source as NSString).deletingLastPathComponent
        return ((profileDirectory as NSString).deletingLastPathComponent as NSString).appendingPathComponent("static")
    }

    static func meanMJD(_ context: JobContext) -> Double {
        context.inputs.compactMap(\.frame.mjdObs).reduce(0, +) / Double(max(context.inputs.count, 1))
    }
}
