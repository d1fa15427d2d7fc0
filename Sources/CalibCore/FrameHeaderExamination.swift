import FITS

/// What a frame's header says once every value calibd uses has been checked: the pure part of
/// ingest (header → validation → classification → night → setup), without disk, clock or
/// database, so that it can be fuzzed and tested on values.
///
/// A verdict with a `problem` is recorded as an unusable frame with that reason; the fields
/// found before the problem (instrument, type) are kept for listings.
public struct FrameHeaderExamination: Sendable, Equatable {
    public var instrument: String
    public var type: FrameType
    public var lamp: String?
    public var problem: String?
    public var night: ObservingNight?
    public var setup: Setup?
    /// Exposure start, MJD (UTC); validated to lie in 1950–2100.
    public var mjd: Double?
    /// Exposure time, s; validated finite and in 0…10⁶.
    public var exposureTime: Double?
    public var templateStart: String?
    public var templateCount: Int?

    /// Examines `header` (the primary header, with the first image extension's cards appended
    /// when the primary holds no data) by `profile`.
    ///
    /// - Parameter imageShape: NAXISn of the frame's image as the structural check found them
    ///   (nil to read them from `header`); its width bounds the prescan and overscan.
    public init(header: FITSHeader, profile: InstrumentProfile, imageShape: [Int]? = nil) {
        let classification = profile.classify(header)
        instrument = profile.name
        type = classification.type
        lamp = classification.lamp
        if let refused = examineValues(header, profile: profile, imageShape: imageShape) {
            problem = refused.description
            return
        }
        // A frame whose setup cannot be read would be filed under `arm=UNDEFINED`
        // and matched with nothing (or, worse, with other such frames): say which keyword is missing.
        let missingSetup = type == .unknown ? [] : profile.missingSetupKeywords(in: header)
        if !missingSetup.isEmpty {
            let named = missingSetup.map { "\($0.keywords.joined(separator: " or ")) (setup key \($0.name))" }.joined(separator: ", ")
            problem = "missing keyword\(missingSetup.count == 1 ? "" : "s") \(named) of the \(profile.name) profile: "
                + "the frame's setup cannot be known"
            return
        }
        night = profile.night.night(forMJD: mjd!)
        setup = profile.setup(of: header)
        problem = classification.problem
    }

    /// Checks every value in turn, keeping each that passes; the first that fails is returned.
    private mutating func examineValues(_ header: FITSHeader, profile: InstrumentProfile, imageShape: [Int]?) -> HeaderValueProblem? {
        switch HeaderValidation.observationMJD(header, timeKey: profile.timeKey) {
        case .failure(let p): return p
        case .success(let value): mjd = value
        }
        if type != .unknown {
            switch HeaderValidation.exposureTime(header, key: profile.exposureTimeKey) {
            case .failure(let p): return p
            case .success(let value): exposureTime = value
            }
        } else if let value = header[profile.exposureTimeKey].flatMap(HeaderValidation.number),
                  HeaderValidation.exposureRange.contains(value) {
            exposureTime = value
        }
        if let template = profile.template {
            switch HeaderValidation.templateCount(header, key: template.count) {
            case .failure(let p): return p
            case .success(let count): templateCount = count
            }
            templateStart = header.string(template.start)
        }
        for name in HeaderValidation.binningSetupNames {
            if case .failure(let p) = HeaderValidation.binning(header, profile: profile, name: name) { return p }
        }
        if case .failure(let p) = HeaderValidation.gain(header, layout: profile.detector) { return p }
        let shape: [Int]
        if let imageShape {
            shape = imageShape
        } else {
            switch HeaderValidation.imageShape(header) {
            case .failure(let p): return p
            case .success(let s): shape = s
            }
        }
        if shape.count >= 2, case .failure(let p) = DetectorWindows.read(header, layout: profile.detector, width: shape[0]) {
            return p
        }
        return nil
    }
}
