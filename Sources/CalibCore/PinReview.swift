/// Decides whether a person may pin a product, and for which setup, before
/// the pin is written: a pin names its instrument, type and full setup (the
/// association rule's match keys, from the product unless given), and is
/// refused for a product that would be the wrong thing to serve.
///
/// Two kinds of refusal: a product of another setup on the match keys can
/// never be pinned for that setup, because the association engine never
/// serves it there (not even for a forced pin); a product that failed QC or
/// whose file is missing or quarantined may be pinned with `--force`, which is
/// then recorded with who, when and why.
public struct PinReview: Sendable, Equatable {
    /// The setup the pin applies to: the product's values on the match keys, with the person's terms.
    public var setup: Setup
    /// Why the pin may not be made at all (setup mismatch), or nil.
    public var mismatch: String?
    /// Refusals `--force` may override ("failed QC", "its file is missing").
    public var forceable: [String]

    /// - Parameters:
    ///   - product: the product to pin.
    ///   - matchKeys: the association rule's match keys for the product's type.
    ///   - given: setup terms the person named (may be empty).
    public init(product: CalibrationCandidate, matchKeys: [String], given: Setup) {
        let differing = matchKeys.sorted().filter { given[$0] != nil && given[$0] != product.setup[$0] }
        mismatch = differing.isEmpty ? nil
            : "product \(product.id) is a \(product.type.rawValue) of \(product.setup.restricted(to: differing).canonical), "
              + "not \(given.restricted(to: differing).canonical); a pin never serves a product of another setup on "
              + "\(product.type.rawValue)'s match keys (\(matchKeys.sorted().joined(separator: ", "))), not even with --force"
        var setup = product.setup.restricted(to: matchKeys)
        for (key, value) in given.values { setup[key] = value }
        self.setup = setup
        var forceable: [String] = []
        if !product.qcPassed { forceable.append("product \(product.id) failed QC") }
        if !product.isAvailable { forceable.append("product \(product.id)'s file is missing or quarantined") }
        self.forceable = forceable
    }
}
