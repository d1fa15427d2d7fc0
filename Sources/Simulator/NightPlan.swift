/// What a simulated night contains, in the order it is taken: template
/// blocks of one kind of exposure each.
public struct NightPlan: Sendable, Codable {
    public enum Kind: String, Sendable, Codable, CaseIterable {
        /// `d2flat`: flats with the arm's D2 lamp (skipped for arms without one).
        case bias, dark, flat, d2Flat = "d2flat", orderDefinition = "orderdef", arcPinhole = "arc_pinhole",
             arcMultiPinhole = "arc_multi_pinhole", science

        var exposure: ExposureKind {
            switch self {
            case .bias: .bias
            case .dark: .dark
            case .flat: .flat(lampScale: 1)
            case .d2Flat: .d2Flat(lampScale: 1)
            case .orderDefinition: .orderDefinition
            case .arcPinhole: .arcSinglePinhole
            case .arcMultiPinhole: .arcMultiPinhole
            case .science: .science
            }
        }

        var dprCatg: String { self == .science ? "SCIENCE" : "CALIB" }

        var dprType: String {
            switch self {
            case .bias: "BIAS"
            case .dark: "DARK"
            case .flat, .d2Flat: "LAMP,FLAT"
            case .orderDefinition: "LAMP,ORDERDEF"
            case .arcPinhole: "LAMP,FMTCHK"
            case .arcMultiPinhole: "LAMP,WAVE"
            case .science: "OBJECT"
            }
        }

        var dprTech: String {
            switch self {
            case .bias, .dark: "IMAGE"
            case .flat, .d2Flat, .science: "ECHELLE,SLIT"
            case .orderDefinition, .arcPinhole: "ECHELLE,PINHOLE"
            case .arcMultiPinhole: "ECHELLE,MULTI-PINHOLE"
            }
        }

        var lamp: String? {
            switch self {
            case .flat, .orderDefinition: "QTH"
            case .d2Flat: "D2"
            case .arcPinhole, .arcMultiPinhole: "ThAr"
            case .bias, .dark, .science: nil
            }
        }

        var object: String {
            switch self {
            case .science: "HD 10700"
            default: dprType
            }
        }
    }

    public struct Block: Sendable, Codable {
        public var kind: Kind
        public var count: Int
        /// Seconds; nil takes the arm's lamp reference exposure (flats and order definition).
        public var exposureTime: Double?
        /// Flat-lamp intensity relative to nominal (a flickering or failing lamp).
        public var lampScale: Double
        /// Per-exposure lamp scales (a flickering lamp); overrides `lampScale` where given.
        public var lampScales: [Double]?

        public init(_ kind: Kind, count: Int, exposureTime: Double? = nil, lampScale: Double = 1, lampScales: [Double]? = nil) {
            self.kind = kind; self.count = count; self.exposureTime = exposureTime; self.lampScale = lampScale
            self.lampScales = lampScales
        }

        /// The lamp scale of the `index`-th exposure of the block.
        func lampScale(at index: Int) -> Double {
            guard let lampScales, index < lampScales.count else { return lampScale }
            return lampScales[index]
        }

        func exposure(at index: Int) -> ExposureKind {
            switch kind {
            case .flat: .flat(lampScale: lampScale(at: index))
            case .d2Flat: .d2Flat(lampScale: lampScale(at: index))
            default: kind.exposure
            }
        }
    }

    public var blocks: [Block]
    /// Seconds between the end of one exposure and the start of the next.
    public var readoutSeconds: Double = 40

    /// A night's standard calibration plan, then two science exposures. Arms with a D2
    /// lamp take five D2 flats after the QTH flats; the others skip that block.
    public init(blocks: [Block] = [
        Block(.bias, count: 5, exposureTime: 0),
        Block(.dark, count: 3, exposureTime: 300),
        Block(.flat, count: 5),
        Block(.d2Flat, count: 5),
        Block(.orderDefinition, count: 1),
        Block(.arcPinhole, count: 1, exposureTime: 5),
        Block(.arcMultiPinhole, count: 1, exposureTime: 10),
        Block(.science, count: 2, exposureTime: 900),
    ]) {
        self.blocks = blocks
    }
}
