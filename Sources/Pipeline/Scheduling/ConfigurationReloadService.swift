import CalibCore
import Dispatch
import Foundation
import Glibc
import Logging
import ServiceLifecycle

/// Reloads the configuration on SIGHUP (`systemctl reload calibd`, the
/// unit's `ExecReload=`), so that a changed QC range or recipe parameter
/// applies to the next night without stopping the daemon mid-night.
///
/// The file and its profiles are checked as `calibd --check-config` checks
/// them. With no finding the new configuration plans new jobs from then on
/// (running jobs finish with what they started with) and what changed is
/// logged at notice; with findings they are logged at error and the old
/// configuration keeps running. Roots, workspace, database and worker count
/// are read at start only: a change to them is logged as needing a restart.
public struct ConfigurationReloadService: Service {
    let engine: CalibrationEngine
    let configPath: String?
    let watchOverride: [String]
    let workspaceOverride: String?
    let notifier: SystemdNotifier
    let onReloaded: @Sendable () -> Void
    /// Called once SIGHUP is taken over: the daemon says it is running only
    /// after this, so that a reload asked for at once is not lost.
    let onListening: @Sendable () -> Void

    public init(engine: CalibrationEngine, configPath: String?, watch: [String], workspace: String?,
                notifier: SystemdNotifier, onReloaded: @escaping @Sendable () -> Void,
                onListening: @escaping @Sendable () -> Void = {}) {
        self.engine = engine; self.configPath = configPath; self.watchOverride = watch; self.workspaceOverride = workspace
        self.notifier = notifier; self.onReloaded = onReloaded; self.onListening = onListening
    }

    public func run() async throws {
        // The default action of SIGHUP ends the process (exit 129): take it over.
        signal(SIGHUP, SIG_IGN)
        let (hangups, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let source = DispatchSource.makeSignalSource(signal: SIGHUP, queue: .global())
        source.setEventHandler { continuation.yield() }
        source.resume()
        defer { source.cancel(); continuation.finish() }
        onListening()
        var current = engine.configuration
        for await _ in hangups.cancelOnGracefulShutdown() {
            notifier.reloading()
            if let adopted = reload(from: current) {
                current = adopted
                notifier.reloaded(status: "configuration reloaded")
            } else {
                notifier.reloaded(status: "configuration reload refused (see the log); running with the previous one")
            }
        }
    }

    /// One reload: the configuration adopted, or nil when it was refused.
    func reload(from current: CalibdConfiguration) -> CalibdConfiguration? {
        let logger = engine.logger
        let path: String
        // Absolute, so that the log names the file whatever directory the daemon was started in.
        do { path = URL(fileURLWithPath: try ConfigurationLocator.locate(configPath: configPath)).standardizedFileURL.path } catch {
            logger.error("configuration not reloaded: \(error); the previous one stays in force")
            return nil
        }
        let findings = ConfigurationChecker.findings(configPath: path)
        let fresh: CalibdConfiguration
        do {
            guard findings.isEmpty else { throw ReloadRefused() }
            fresh = try ConfigurationLocator.load(configPath: path, watch: watchOverride, workspace: workspaceOverride)
        } catch {
            let all = findings.isEmpty ? ["\(error)"] : findings.map { "\($0)" }
            for finding in all { logger.error("configuration finding: \(finding)", metadata: ["config": "\(path)"]) }
            logger.error("configuration not reloaded: \(all.count) finding\(all.count == 1 ? "" : "s"); the previous one stays in force",
                         metadata: ["config": "\(path)"])
            return nil
        }
        let changes = Self.changes(from: current, to: fresh)
        engine.adopt(fresh)
        logger.notice("configuration reloaded", metadata: [
            "config": "\(path)", "changes": "\(changes.isEmpty ? "none" : changes.joined(separator: "; "))",
        ])
        onReloaded()
        return fresh
    }

    struct ReloadRefused: Error {}

    /// What a person needs to know changed, one phrase each: profiles and
    /// recipes added, removed or changed (with the recipe's changed parts),
    /// ingest settings, and settings read only at start.
    static func changes(from old: CalibdConfiguration, to new: CalibdConfiguration) -> [String] {
        var changes: [String] = []
        let oldProfiles = Dictionary(old.profiles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let newProfiles = Dictionary(new.profiles.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        for name in Set(oldProfiles.keys).union(newProfiles.keys).sorted() {
            guard let before = oldProfiles[name] else { changes.append("profile \(name) added"); continue }
            guard let after = newProfiles[name] else { changes.append("profile \(name) removed"); continue }
            let oldRecipes = Dictionary(before.recipes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            let newRecipes = Dictionary(after.recipes.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
            for recipe in Set(oldRecipes.keys).union(newRecipes.keys).sorted() {
                switch (oldRecipes[recipe], newRecipes[recipe]) {
                case (nil, _): changes.append("\(name) recipe \(recipe) added")
                case (_, nil): changes.append("\(name) recipe \(recipe) removed")
                case let (a?, b?) where a != b:
                    var parts: [String] = []
                    if a.qc != b.qc { parts.append("QC ranges") }
                    if a.parameters != b.parameters { parts.append("parameters") }
                    if a.timeLimitSeconds != b.timeLimitSeconds { parts.append("time limit") }
                    if parts.isEmpty { parts.append("inputs or upstream") }
                    changes.append("\(name) recipe \(recipe): \(parts.joined(separator: ", "))")
                default: break
                }
            }
        }
        if old.ingest != new.ingest { changes.append("ingest settings (the running watcher keeps the old ones until a restart)") }
        if old.watch != new.watch || old.workspace != new.workspace || old.database != new.database || old.workers != new.workers {
            changes.append("watch, workspace, database or workers changed: these take effect only after a restart")
        }
        return changes
    }
}
