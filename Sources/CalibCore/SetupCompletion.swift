/// Completes a person's partial setup for `calibctl best` from the setups
/// the candidates actually have, so that the answer is never "some product
/// matching on nothing": for each match key the request leaves out, if every
/// candidate agreeing with what was given has one value, the request takes
/// it (and says so); if they disagree, the request is ambiguous and the
/// values are listed for the person to choose.
public struct SetupCompletion: Sendable, Equatable {
    /// The request's setup with the keys every candidate agreed on added.
    public var setup: Setup
    /// The keys added, with their value.
    public var completed: Setup
    /// Match keys the request leaves out on which candidates disagree, with the values seen.
    public var ambiguous: [String: [String]]
    /// Match keys neither given nor held by any agreeing candidate.
    public var unknown: [String]

    /// - Parameters:
    ///   - request: what the person gave (already checked against the profile's setup keys).
    ///   - matchKeys: the association rule's match keys.
    ///   - available: the distinct setups of the candidates (products of that type and instrument).
    public init(request: Setup, matchKeys: [String], available: [Setup]) {
        let agreeing = available.filter { $0.satisfies(request.restricted(to: matchKeys)) }
        var setup = request, completed = Setup(), ambiguous: [String: [String]] = [:], unknown: [String] = []
        for key in matchKeys.sorted() where request[key] == nil {
            let values = Set(agreeing.compactMap { $0[key] }).sorted()
            switch values.count {
            case 0: unknown.append(key)
            case 1: setup[key] = values[0]; completed[key] = values[0]
            default: ambiguous[key] = values
            }
        }
        self.setup = setup; self.completed = completed; self.ambiguous = ambiguous; self.unknown = unknown
    }

    /// "arm (BLUE, RED), binx (1, 2)"
    public var ambiguityDescription: String {
        ambiguous.sorted { $0.key < $1.key }.map { "\($0.key) (\($0.value.joined(separator: ", ")))" }.joined(separator: ", ")
    }
}
