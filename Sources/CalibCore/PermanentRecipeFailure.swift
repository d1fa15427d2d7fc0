/// An error that the same inputs, parameters and calibrations will raise
/// every time: too few arc lines for the polynomial, an empty pinhole map
/// on this detector. Retrying such a job only delays its verdict (and keeps
/// a batch run's queue from ever emptying), so the engine fails it at once
/// with this reason instead of re-queueing it with a back-off, as it does
/// for errors that may pass (a file system hiccup, a lost lease).
public protocol PermanentRecipeFailure: Error {}
