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
    /// Binning along x (`binx`) and y (`biny`, X-shooter's 1×2 bins y only).
    var binning: Int
    var binningY: Int
    var gain: Double
    var exposureTime: Double
    var map: PinholeMap
    /// The nominal model at this binning (`<config>/static/<NAME>_nominal_dispersion.json`), if shipped.
    var nominal: NominalDispersion?
    /// Per pixel of `image`: the raw value reached the detector's saturation level.
    var saturated: [Bool]

    init(_ context: JobContext) throws {
        let stack = try context.frameStack(try context.inputPaths)
        header = stack.headers[0]
        let raw = try stack.image(0)
        // The master bias, or on a detector without one the arc's lamp-off frames.
        let bias = try UpstreamBias(context).image.pixels
        guard bias.count == raw.pixels.count else {
            throw PipelineError.inputMismatch("the master bias (or lamp-off frames) has \(bias.count) pixels, the arc frame \(raw.pixels.count)")
        }
        let regions = try DetectorGeometry.regions(width: stack.width, header: header, layout: context.profile.detector, path: stack.paths[0],
                                                   orientation: stack.orientation,
                                              scienceColumns: context.profile.scienceColumns(of: stack.headers[0]))
        var subtracted = raw
        for i in subtracted.pixels.indices { subtracted.pixels[i] -= bias[i] }
        image = subtracted.cropped(x: regions.science, y: 0..<raw.height)
        // Judged on the raw value: after the bias is removed the level differs from pixel to pixel.
        let level = Float(context.profile.saturationADU(of: header) ?? 65535)
        var mask = [Bool](repeating: false, count: image.width * image.height)
        for y in 0..<raw.height {
            for (i, x) in regions.science.enumerated() where raw.pixels[y * raw.width + x] >= level { mask[y * image.width + i] = true }
        }
        saturated = mask
        gain = try DetectorGeometry.gain(header: header, layout: context.profile.detector, path: stack.paths[0])
        let frameHeader = header
        // The profile's own setup reading, which knows that a setup may live in one of several keywords.
        let binx = try DetectorGeometry.binning(header: frameHeader, profile: context.profile, path: stack.paths[0], name: "binx")
        // A profile without a biny key bins both axes alike.
        let biny = context.profile.setupKeys["biny"] == nil
            ? binx : try DetectorGeometry.binning(header: frameHeader, profile: context.profile, path: stack.paths[0], name: "biny")
        binning = binx
        binningY = biny
        exposureTime = frameHeader.double(context.profile.exposureTimeKey) ?? .nan
        // A binning's own static file (made from that binning's model table) is preferred to rebinning the unbinned one.
        let binned = "_\(binx)x\(biny)"
        let mapPath = [binned + Self.pinholeMapSuffix, Self.pinholeMapSuffix]
            .map { Self.staticPath(context: context, header: frameHeader, suffix: $0) }.first { FileManager.default.fileExists(atPath: $0) }
        guard let mapPath else {
            throw PipelineError.configuration("static pinhole map \(Self.staticPath(context: context, header: frameHeader, suffix: Self.pinholeMapSuffix)) is missing")
        }
        map = try PinholeMap.read(path: mapPath).rebinned(x: binx, y: biny)
        let nominalPath = [binned + "_nominal_dispersion.json", "_nominal_dispersion.json"]
            .map { Self.staticPath(context: context, header: frameHeader, suffix: $0) }.first { FileManager.default.fileExists(atPath: $0) }
        nominal = try nominalPath.map { try NominalDispersion.read(path: $0).rebinned(x: binx, y: biny) }
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
