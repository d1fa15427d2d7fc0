/// Two continuum lamps that together flat-field one arm (X-shooter's UVB: a
/// deuterium lamp for the blue orders, a quartz-tungsten-halogen lamp for the
/// red ones), as an input spec declares them:
///
/// ```yaml
/// inputs: {type: FLAT, min: 3, max: 30, match: [arm, binx, biny, readSpeed, exptime, lamp],
///          stitch: {blue: D2, red: QTH}}
/// parameters: {"stitchOrder[arm=BLUE]": 24}
/// ```
///
/// Stitching applies to the setups for which the recipe's `stitchOrder`
/// parameter resolves (plain, or scoped like `stitchOrder[arm=BLUE]`); other
/// setups keep one input set per lamp. For a stitched setup the planner forms
/// one input set holding both lamps' flats (each lamp needs `min` frames, at
/// most `max` are used per lamp; `lamp` and `exptime` no longer split the
/// set, as the lamps are exposed for different times). Orders above the stitch
/// order (bluer: higher physical order numbers) come from the blue lamp.
public struct LampStitch: Sendable, Decodable, Equatable, Hashable {
    /// Lamp label (as classification gives it) of the flats for the orders above the stitch order.
    public var blue: String
    /// Lamp label of the flats for the stitch order and the orders below it.
    public var red: String

    public init(blue: String, red: String) { self.blue = blue; self.red = red }

    /// The setup value that stands for the lamp of a stitched set (`lamp=D2+QTH`).
    public var setupLabel: String { "\(blue)+\(red)" }

    /// The recipe parameter naming the stitch order.
    public static let orderParameter = "stitchOrder"
}
