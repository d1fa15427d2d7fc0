import Foundation

/// `calibctl status --json` (`docs/schema/status.schema.json`): whether the
/// daemon is alive (a heartbeat younger than 10 s), its start time as a
/// time, not the stored epoch text, the job counts by state and the frame count.
public struct StatusJSON: Encodable, Sendable {
    public var running: Bool
    public var paused: Bool
    @Nullable public var owner: String?
    @Nullable public var startedAt: Date?
    @Nullable public var heartbeatAt: Date?
    public var watch: [String]
    /// Count per job state; states without jobs are 0.
    public var jobs: [String: Int]
    public var frames: Int
    public var database: String

    public init(running: Bool, paused: Bool, owner: String?, startedAt: Date?, heartbeatAt: Date?, watch: [String],
                jobs: [String: Int], frames: Int, database: String) {
        self.running = running; self.paused = paused; self.owner = owner; self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt; self.watch = watch; self.jobs = jobs; self.frames = frames; self.database = database
    }
}
