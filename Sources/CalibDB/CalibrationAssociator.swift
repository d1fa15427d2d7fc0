import CalibCore
import Foundation
import GRDB

/// Answers "the best calibration of type T" from the database through the
/// one association engine (`CalibrationAssociation`), with pins and
/// reference calibrations. Recipes (through the planner) and `calibctl best`
/// both call this.
public struct CalibrationAssociator: Sendable {
    public let database: CalibrationDatabase

    public init(database: CalibrationDatabase) { self.database = database }

    public func best(_ request: AssociationRequest, rule: AssociationRule) throws -> AssociationResult {
        let pins = try database.pins(type: request.type, instrument: request.instrument, night: request.night)
        // Candidates within the widest window that can matter first; the whole
        // archive only when nothing in it qualifies (level "any time").
        let window = rule.maxAgeDays ?? (rule.levelLimitsDays.last ?? 31)
        var candidates = try database.products(type: request.type, instrument: request.instrument,
                                               mjd: (request.mjd - window - 1)...(request.mjd + window + 1))
        candidates += try database.references(type: request.type, instrument: request.instrument)
            .filter { r in !candidates.contains { $0.id == r.id } }
        for pin in pins where !candidates.contains(where: { $0.id == pin.productId }) {
            if let pinned = try database.product(id: pin.productId) { candidates.append(pinned) }
        }
        var result = CalibrationAssociation.choose(request, candidates: candidates.map(\.candidate), rule: rule, pins: pins)
        if result.chosen == nil && rule.maxAgeDays == nil {
            let all = try database.products(type: request.type, instrument: request.instrument, mjd: nil)
            if all.count > candidates.count {
                result = CalibrationAssociation.choose(request, candidates: all.map(\.candidate), rule: rule, pins: pins)
            }
        }
        return result
    }
}
