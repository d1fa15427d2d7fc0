import CalibCore
import Foundation

/// One product considered for "the best calibration", with the verdict.
public struct CalibrationCandidate: Sendable, Codable {
    public var product: ProductRecord
    /// Days between the product and the time asked about.
    public var deltaDays: Double
    /// nil if acceptable; otherwise why it was set aside.
    public var rejection: String?
}

/// The answer to "which calibration of type T for this night and setup".
public struct CalibrationChoice: Sendable, Codable {
    public var chosen: CalibrationCandidate?
    /// Every product of the type and instrument that was looked at, best first.
    public var candidates: [CalibrationCandidate]
    /// Why the chosen one won, or what would be needed when nothing qualifies.
    public var explanation: String
}

/// Chooses the best calibration of a type: QC passed, not superseded, setup
/// matching, from the same night if there is one, else the nearest in time.
///
/// The full association rules (quality levels, time policies, pins,
/// reference calibrations) extend this; recipes and `calibctl best` both ask
/// here, so they always agree.
public struct CalibrationSelector: Sendable {
    public let database: CalibrationDatabase

    public init(database: CalibrationDatabase) { self.database = database }

    public func best(type: ProductType, instrument: String?, night: ObservingNight, setup: Setup, atMJD: Double? = nil) throws -> CalibrationChoice {
        let all = try database.products(type: type)
            .filter { instrument == nil || $0.instrument == instrument }
        // Noon-to-noon nights: the night's middle is about 24 h after its date's 00:00 UTC at most sites.
        let reference = atMJD ?? (night.startDateMJD + 1.0)
        var candidates = all.map { product -> CalibrationCandidate in
            let productSetup = (try? Setup(parsing: product.setup)) ?? Setup()
            var rejection: String?
            if !productSetup.satisfies(setup) {
                rejection = "setup \(product.setup) does not match \(setup.canonical)"
            } else if !product.qcPassed {
                rejection = "failed QC"
            } else if let newer = product.supersededBy {
                rejection = "superseded by product \(newer)"
            }
            return CalibrationCandidate(product: product, deltaDays: product.mjd - reference, rejection: rejection)
        }
        candidates.sort { a, b in
            let aNight = a.product.night == night.description, bNight = b.product.night == night.description
            if (a.rejection == nil) != (b.rejection == nil) { return a.rejection == nil }
            if aNight != bNight { return aNight }
            if abs(a.deltaDays) != abs(b.deltaDays) { return abs(a.deltaDays) < abs(b.deltaDays) }
            return (a.product.id ?? 0) > (b.product.id ?? 0)
        }
        guard let chosen = candidates.first(where: { $0.rejection == nil }) else {
            let why = candidates.isEmpty
                ? "no \(type.rawValue) product exists\(instrument.map { " for \($0)" } ?? ""); it needs its input frames of setup \(setup.canonical)"
                : "none of the \(candidates.count) \(type.rawValue) products qualifies (see the candidates)"
            return CalibrationChoice(chosen: nil, candidates: candidates, explanation: why)
        }
        let when = chosen.product.night == night.description
            ? "from the same night"
            : String(format: "nearest passing product in time (%+.2f d)", chosen.deltaDays)
        return CalibrationChoice(chosen: chosen, candidates: candidates,
                                 explanation: "product \(chosen.product.id!) \(when), QC passed, setup matches")
    }
}
