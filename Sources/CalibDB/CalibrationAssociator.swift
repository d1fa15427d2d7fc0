import CalibCore
import Foundation
import GRDB

/// Answers "the best calibration of type T" from the database through the
/// one association engine (`CalibrationAssociation`), with pins and
/// reference calibrations. Recipes (through the planner) and `calibctl best`
/// both call this.
public struct CalibrationAssociator: Sendable {
    /// Any backend's registry: the choice itself is `CalibrationAssociation`, the same code for all.
    public let database: any CalibrationLookup

    public init(database: any CalibrationLookup) { self.database = database }

    public func best(_ request: AssociationRequest, rule: AssociationRule) throws -> AssociationResult {
        let pins = try database.pins(type: request.type, instrument: request.instrument, night: request.night)
        // Candidates within the widest window that can matter first (plus
        // references and pinned products); the whole archive only when nothing
        // in it qualifies (level "any time").
        let window = rule.maxAgeDays ?? (rule.levelLimitsDays.last ?? 31)
        let nearby = try database.candidates(type: request.type, instrument: request.instrument,
                                             mjd: (request.mjd - window - 1)...(request.mjd + window + 1), including: pins.map(\.productId))
        var result = CalibrationAssociation.choose(request, candidates: nearby, rule: rule, pins: pins)
        if result.chosen == nil && rule.maxAgeDays == nil {
            let all = try database.candidates(type: request.type, instrument: request.instrument, mjd: nil, including: [])
            if all.count > nearby.count {
                result = CalibrationAssociation.choose(request, candidates: all, rule: rule, pins: pins)
            }
        }
        return result
    }
}
