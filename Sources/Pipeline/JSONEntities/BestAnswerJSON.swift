import CalibCore
import CalibDB
import Foundation

/// `calibctl best --json` (`docs/schema/best.schema.json`): the request, the
/// chosen product (null when nothing qualifies, exit status 2), how it was
/// chosen, and every candidate's verdict in words.
public struct BestAnswerJSON: Encodable, Sendable {
    public struct Request: Encodable, Sendable {
        public var type: String
        public var instrument: String
        public var night: String
        public var setup: [String: String]
        public var mjd: Double
    }

    /// One candidate the engine looked at.
    public struct Candidate: Encodable, Sendable {
        public var productId: Int64
        public var night: String
        public var setup: [String: String]
        public var mjd: Double
        /// Candidate time minus request time, days.
        public var deltaDays: Double
        /// The quality level it reaches (0 same night … 3 any time); null when set aside.
        @Nullable public var level: Int?
        public var qcPassed: Bool
        public var isReference: Bool
        public var isAvailable: Bool
        @Nullable public var supersededBy: Int64?
        public var chosen: Bool
        /// Why it was set aside; null for the chosen one.
        @Nullable public var rejection: String?
    }

    public var request: Request
    @Nullable public var chosen: ProductJSON?
    /// pin, rules, reference or none.
    public var basis: String
    @Nullable public var level: Int?
    public var explanation: String
    public var candidates: [Candidate]
    /// Setup terms the request left out and `best` filled in because every candidate agreed on them.
    public var setupCompleted: [String: String]

    public init(request: AssociationRequest, result: AssociationResult, chosen: ProductJSON?, setupCompleted: Setup = Setup()) {
        self.setupCompleted = setupCompleted.values
        self.request = Request(type: request.type.rawValue, instrument: request.instrument, night: request.night.description,
                               setup: request.setup.values, mjd: request.mjd)
        self.chosen = chosen
        basis = result.basis.rawValue; level = result.level; explanation = result.explanation
        candidates = result.verdicts.map { v in
            Candidate(productId: v.candidate.id, night: v.candidate.night.description, setup: v.candidate.setup.values,
                      mjd: v.candidate.mjd, deltaDays: v.deltaDays, level: v.level, qcPassed: v.candidate.qcPassed,
                      isReference: v.candidate.isReference, isAvailable: v.candidate.isAvailable,
                      supersededBy: v.candidate.supersededBy, chosen: v.candidate.id == result.chosen?.candidate.id,
                      rejection: v.rejection)
        }
    }
}
