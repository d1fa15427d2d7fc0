import CalibCore
import CalibDB
import Foundation
import Logging

/// Turns recorded frames into jobs: for every recipe of every profile, in
/// dependency order, finds the complete input sets whose upstream
/// calibrations exist and makes sure a job exists for each.
public struct JobPlanner: Sendable {
    public let configuration: CalibdConfiguration
    public let database: any CalibrationRegistry
    public let logger: Logger

    public init(configuration: CalibdConfiguration, database: any CalibrationRegistry, logger: Logger) {
        self.configuration = configuration; self.database = database; self.logger = logger
    }

    /// An input set that cannot run yet, and why.
    public struct Waiting: Sendable, Equatable {
        public var recipe: String
        public var night: String
        public var setup: String
        public var reason: String
    }

    public struct Report: Sendable {
        public var created: [JobRecord] = []
        public var waiting: [Waiting] = []
        /// The earliest moment a waiting set may become complete without a new frame.
        public var recheckAt: Date?
    }

    /// - Parameter nights: plan only these nights' input sets (nil: every night). Input sets
    ///   never span nights, so a night planned here gets exactly the jobs a whole pass would
    ///   give it; what a restricted pass cannot see is another night's change (a frame, or a
    ///   product association may borrow), so whoever restricts must also plan everything at times.
    public func plan(now: Date = Date(), settleSeconds: Double? = nil, nights: Set<String>? = nil) throws -> Report {
        var report = Report()
        let settle = settleSeconds ?? configuration.ingest.settleSeconds
        if let nights, nights.isEmpty { return report }
        for profile in configuration.profiles {
            let frames = try database.frameSummaries(instrument: profile.name, nights: nights.map { $0.sorted() })
            for recipe in Self.dependencyOrder(profile.recipes) {
                guard let executor = RecipeCatalog.executors[recipe.name] else { continue }
                for group in InputSetPlanner.groups(of: frames, for: recipe, instrument: profile.name) {
                    let setupText = group.setup.canonical
                    switch InputSetPlanner.completeness(of: group, spec: recipe.inputs, now: now, settleSeconds: settle) {
                    case .waiting(let reason, let recheck):
                        report.waiting.append(Waiting(recipe: recipe.name, night: group.night.description, setup: setupText, reason: reason))
                        if let recheck { report.recheckAt = min(report.recheckAt ?? recheck, recheck) }
                    case .complete(let inputs):
                        let upstream: [ProductType: AssociationResult]
                        let mjd = inputs.map(\.mjd).reduce(0, +) / Double(inputs.count)
                        switch try chooseUpstream(recipe, profile: profile, night: group.night, setup: group.setup, mjd: mjd) {
                        case .failure(let missing):
                            report.waiting.append(Waiting(recipe: recipe.name, night: group.night.description, setup: setupText, reason: missing.reason))
                            continue
                        case .success(let chosen):
                            upstream = chosen
                        }
                        var planned = PlannedJob(
                            recipe: recipe.name, recipeVersion: executor.version, parameters: Self.canonicalJSON(recipe.parameters),
                            instrument: profile.name, night: group.night.description, setup: setupText,
                            productType: recipe.product, inputs: inputs,
                            calibrations: try upstream.compactMapValues { try database.product(id: $0.chosen!.candidate.id) })
                        planned.associations = upstream
                        let (job, created) = try database.ensureJob(planned, now: now)
                        if created {
                            report.created.append(job)
                            logger.info("job queued", metadata: [
                                "job.id": "\(job.id!)", "job.recipe": "\(recipe.name)", "night": "\(job.night)",
                                "setup": "\(setupText)", "inputs": "\(inputs.count)",
                            ])
                        }
                    }
                }
            }
        }
        return report
    }

    struct MissingUpstream: Error { let reason: String }

    /// The association engine's choice for each upstream type (the same
    /// answer `calibctl best` gives for that time and setup), or why one is missing.
    func chooseUpstream(_ recipe: RecipeSpec, profile: InstrumentProfile, night: ObservingNight, setup: Setup,
                        mjd: Double) throws -> Result<[ProductType: AssociationResult], MissingUpstream> {
        let associator = CalibrationAssociator(database: database)
        // A dark's exposure time or a flat's lamp does not constrain its master bias.
        let upstreamSetup = setup.restricted(to: setup.values.keys.filter { $0 != "exptime" && $0 != "lamp" })
        var chosen: [ProductType: AssociationResult] = [:]
        // An upstream product of this night and setup still being made will be the
        // better choice: wait for it rather than run now with an older one and again later.
        let pending = try database.jobs(night: night.description, states: [.queued, .running])
        let upstream = recipe.upstream(for: setup)
        let required = upstream.map { ($0, true) }
        let optional = recipe.optionalUpstream.filter { !upstream.contains($0) }.map { ($0, false) }
        for (type, isRequired) in required + optional {
            if let busy = pending.first(where: { job in
                job.productType == type && job.instrument == profile.name
                    && ((try? Setup(parsing: job.setup)) ?? Setup()).agrees(with: upstreamSetup)
            }) {
                // A retry after a crash or a full disk says what happened to the last attempt.
                let last = busy.state == .queued && busy.reason != nil ? "; its last attempt ended: \(busy.reason!)" : ""
                return .failure(MissingUpstream(reason: "waiting for job \(busy.id!) (\(busy.recipe)) to make this night's \(type.rawValue)\(last)"))
            }
            let request = AssociationRequest(type: type, instrument: profile.name, night: night, setup: upstreamSetup, mjd: mjd)
            let result = try associator.best(request, rule: profile.associationRule(for: type))
            guard result.chosen != nil else {
                // This night's job for it failed for good: name it and its reason, which is what a person needs.
                if isRequired, let failed = try database.jobs(night: night.description, states: [.failed]).last(where: { job in
                    job.productType == type && job.instrument == profile.name
                        && ((try? Setup(parsing: job.setup)) ?? Setup()).agrees(with: upstreamSetup)
                }) {
                    return .failure(MissingUpstream(reason: "waiting for a usable \(type.rawValue): job \(failed.id!) (\(failed.recipe)), "
                                                    + "which makes this night's \(type.rawValue), failed: \(failed.reason ?? "no reason recorded")"))
                }
                if isRequired {
                    return .failure(MissingUpstream(reason: "waiting for a usable \(type.rawValue): \(result.explanation)"))
                }
                continue
            }
            chosen[type] = result
        }
        return .success(chosen)
    }

    /// Recipes ordered so that each comes after the recipes producing its upstream types (optional ones included).
    static func dependencyOrder(_ recipes: [RecipeSpec]) -> [RecipeSpec] {
        var ordered: [RecipeSpec] = []
        var remaining = recipes.sorted { $0.name < $1.name }
        while !remaining.isEmpty {
            let produced = Set(ordered.map(\.product))
            let producible = Set(recipes.map(\.product))
            guard let next = remaining.firstIndex(where: { r in
                (r.anyUpstream + r.optionalUpstream).allSatisfy { produced.contains($0) || !producible.contains($0) }
            }) else {
                ordered += remaining  // a cycle: configuration validation reports it; keep going
                break
            }
            ordered.append(remaining.remove(at: next))
        }
        return ordered
    }

    static func canonicalJSON(_ parameters: [String: Double]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return (try? String(decoding: encoder.encode(parameters), as: UTF8.self)) ?? "{}"
    }
}
