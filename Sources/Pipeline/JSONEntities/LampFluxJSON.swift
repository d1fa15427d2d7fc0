import Foundation

/// `calibctl lamp-flux --json` (`docs/schema/lamp-flux.schema.json`): the
/// nights shown and the brightest `--lines` lines, as the table shows them,
/// each night's setup as an object.
public struct LampFluxJSON: Encodable, Sendable {
    public struct Night: Encodable, Sendable {
        public var night: String
        public var productId: Int64
        public var setup: [String: String]
        public var lamp: String
        /// Median flux ratio to the first night − 1; null when no line is shared.
        @Nullable public var medianChange: Double?
        public var sharedLines: Int
    }

    public struct Line: Encodable, Sendable {
        public var order: Int
        /// nm.
        public var wavelength: Double
        /// ADU/s per night, in the order of `nights`; null where not measured or saturated.
        public var fluxADUPerSecond: [Double?]
    }

    public var nights: [Night]
    public var lines: [Line]

    /// `lines` are the history's lines already chosen and ordered (brightest first).
    public init(history: LampFluxHistory, lines: [LampFluxHistory.Line]) {
        nights = history.nights.map {
            Night(night: $0.night, productId: $0.productId, setup: JSONOutput.setup($0.setup) ?? [:], lamp: $0.lamp,
                  medianChange: JSONOutput.finite($0.medianChange), sharedLines: $0.sharedLines)
        }
        self.lines = lines.map { Line(order: $0.order, wavelength: $0.wavelength, fluxADUPerSecond: $0.fluxADUPerSecond.map(JSONOutput.finite)) }
    }
}
