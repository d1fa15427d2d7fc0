import Foundation

/// A fault-injection hook for the crash-isolation tests: makes a worker
/// process trap (a real Swift runtime trap, SIGILL) on a chosen file or
/// recipe, so that the daemon's handling of a crash can be tested without a
/// real bug to trigger it.
///
/// Read only by worker processes (`calibd worker …`), never by the daemon,
/// `calibd --once`'s parent or `calibctl`, and only from the environment
/// variable `CALIBD_TEST_TRAP_ON`, whose value must be `file:SUBSTRING` (trap
/// when a file's name contains SUBSTRING) or `recipe:NAME` (trap when running
/// that recipe). Nothing in a configuration file or a FITS header can set it.
///
/// `CALIBD_TEST_HANG_ON=recipe:NAME`, read the same way, makes that recipe's
/// process hang (sleep for ever) instead, for the time-limit tests.
public struct FaultInjection: Sendable, Equatable {
    public static let variable = "CALIBD_TEST_TRAP_ON"
    public static let hangVariable = "CALIBD_TEST_HANG_ON"

    public var fileNameContains: String?
    public var recipe: String?
    public var hangingRecipe: String?

    /// The hook as the environment sets it (none when the variable is unset or malformed).
    public static func fromEnvironment(_ environment: [String: String] = ProcessInfo.processInfo.environment) -> FaultInjection {
        var injection = FaultInjection()
        if let hang = environment[hangVariable], hang.hasPrefix("recipe:"), hang.count > 7 { injection.hangingRecipe = String(hang.dropFirst(7)) }
        guard let value = environment[variable] else { return injection }
        if value.hasPrefix("file:"), value.count > 5 { injection.fileNameContains = String(value.dropFirst(5)) }
        if value.hasPrefix("recipe:"), value.count > 7 { injection.recipe = String(value.dropFirst(7)) }
        return injection
    }

    func trap(onFile path: String) {
        if let needle = fileNameContains, (path as NSString).lastPathComponent.contains(needle) {
            fatalError("\(Self.variable): trapping on \(path) as the test asked")
        }
    }

    func trap(onRecipe name: String) {
        if recipe == name { fatalError("\(Self.variable): trapping in recipe \(name) as the test asked") }
        if hangingRecipe == name { while true { sleep(3600) } }
    }
}
