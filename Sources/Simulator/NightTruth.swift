/// The truth file of a simulated night (`truth/<night>/truth.json`).
public struct NightTruth: Codable, Sendable {
    public var instrument: String
    public var night: String
    public var seed: UInt64
    public var size: Int
    public var arms: [String: ArmNightTruth]
}

public struct ArmNightTruth: Codable, Sendable {
    public var detector: DetectorTruthSummary
    public var geometry: ArmTruth
    public var frames: [FrameTruth]
}

/// One written frame and what went into it.
public struct FrameTruth: Codable, Sendable {
    public var file: String
    public var kind: String
    public var exposureTime: Double
    public var lampScale: Double
    public var mjd: Double
    public var cosmicRayPixels: Int
}

/// The detector truth without its per-pixel maps (those go to FITS files).
public struct DetectorTruthSummary: Codable, Sendable {
    public var biasLevelADU: Double
    /// Mean of the fixed bias pattern over the science area (ADU).
    public var biasPatternMeanADU: Double
    public var readNoiseADU: Double
    public var readNoiseElectrons: Double
    public var gain: Double
    public var darkCurrentElectronsPerSecond: Double
    public var saturationADU: Double
    public var overscanColumns: Int
    public var coldColumns: [Int]
    public var hotColumns: [Int]
    /// Science-area pixel indices (y × size + x), cold columns included.
    public var coldPixels: [Int]
    public var hotPixels: [Int]

    public init(_ t: DetectorTruth) {
        biasLevelADU = t.biasLevelADU
        biasPatternMeanADU = t.biasPatternMean
        readNoiseADU = t.readNoiseADU
        readNoiseElectrons = t.readNoiseElectrons
        gain = t.gain
        darkCurrentElectronsPerSecond = t.darkCurrentElectronsPerSecond
        saturationADU = t.saturationADU
        overscanColumns = t.overscanColumns
        coldColumns = t.coldColumns
        hotColumns = t.hotColumns
        coldPixels = t.coldPixels
        hotPixels = t.hotPixels
    }
}
