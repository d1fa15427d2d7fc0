import CalibCore
import Foundation

/// What the association engine reads (candidates, pins) and what a person
/// changes about it (pins, reference calibrations, availability).
/// `CalibrationAssociator` answers "best calibration, and why" from this alone,
/// so the answer's rules (`CalibrationAssociation`, `PinReview`) are the same code on every backend.
public protocol CalibrationLookup: Sendable {
    /// Products of a type and instrument within an MJD interval, every reference of that
    /// type, and the products `ids` (pinned); every product of the type when `mjd` is nil.
    func candidates(type: ProductType, instrument: String, mjd: ClosedRange<Double>?, including ids: [Int64]) throws
        -> [CalibrationCandidate]
    /// Pins in force for a night, newest first.
    func pins(type: ProductType, instrument: String, night: ObservingNight) throws -> [CalibrationPin]
    /// Pins in force with their id and creation time, by id.
    func pinListing() throws -> [(id: Int64, pin: CalibrationPin, createdAt: Date)]
    /// Writes a pin (whether it may be made is `PinReview`'s decision, taken before); returns its id.
    func addPin(productId: Int64, firstNight: ObservingNight, lastNight: ObservingNight, setup: Setup,
                note: String, by who: String, forcedOver: String?, now: Date) throws -> Int64
    /// Ends a pin; `ControlError` when no such pin is in force.
    func removePin(id: Int64, now: Date) throws
    func setReference(productId: Int64, _ isReference: Bool) throws
    func setAvailability(productId: Int64, _ availability: ProductRecord.Availability) throws
    func instruments(withProductsOf type: ProductType?) throws -> [String]
    func productSetups(type: ProductType, instrument: String) throws -> [Setup]
}
