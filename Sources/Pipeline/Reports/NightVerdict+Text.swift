import Foundation

/// The verdict in words, for terminals and logs.
extension NightVerdict {
    /// One line a person or a log reader can act on:
    /// `night 2026-11-21 complete: 16/16 products QC-passed, 0 missing` or
    /// `night 2026-11-22 incomplete: 14/16 QC-passed, 1 QC-failed (mflat arm=RED …: rejectedFrames=3 outside [-inf, 1]), 1 missing (…)`.
    public var summaryLine: String {
        let passed = items(.passed).count
        let unusable = unusableFiles.isEmpty ? "" : ", \(unusableFiles.count) unusable file\(unusableFiles.count == 1 ? "" : "s")"
        if items.isEmpty {
            return "night \(night) incomplete: nothing can be made from its \(frameCount) usable frame\(frameCount == 1 ? "" : "s")\(unusable)"
        }
        if isComplete { return "night \(night) complete: \(passed)/\(items.count) products QC-passed, 0 missing\(unusable)" }
        var parts = ["\(passed)/\(items.count) QC-passed"]
        for (outcome, word) in [(Outcome.qcFailed, "QC-failed"), (.failed, "failed"), (.notPossible, "missing"), (.waiting, "waiting")] {
            let these = items(outcome)
            guard !these.isEmpty else { continue }
            // The first two in full; the rest are in the lines that follow a summary, or in `calibctl night`.
            var shown = these.prefix(2).map { "\($0.label): \($0.headline)" }.joined(separator: "; ")
            if these.count > 2 { shown += "; …" }
            parts.append("\(these.count) \(word) (\(shown))")
        }
        let state = isSettled ? "incomplete" : "not finished"
        return "night \(night) \(state): " + parts.joined(separator: ", ") + unusable
    }

    /// One line per item that did not pass, then per unusable file (at most
    /// `unusableLimit`, then a pointer to the rest).
    public func problemLines(unusableLimit: Int = 5, indent: String = "  ") -> [String] {
        notPassing.map { line(for: $0, indent: indent) } + unusableLines(limit: unusableLimit, indent: indent)
    }

    /// Every expected product, one per line, problems first, then every unusable file — `calibctl night`.
    public func fullLines(indent: String = "  ") -> [String] {
        (notPassing + items(.passed)).map { line(for: $0, indent: indent, detailed: true) }
            + unusableLines(limit: .max, indent: indent)
    }

    func line(for item: ExpectedProduct, indent: String, detailed: Bool = false) -> String {
        var text = indent + item.outcome.word.padding(toLength: 10, withPad: " ", startingAt: 0) + " \(item.label)"
        if detailed {
            text += item.jobId.map { " (job \($0))" } ?? ""
            if !item.products.isEmpty { text += " [" + item.products.map { "\($0.type.rawValue) \($0.id)" }.joined(separator: ", ") + "]" }
        }
        return text + (item.reason.map { ": \($0)" } ?? "")
    }

    func unusableLines(limit: Int, indent: String) -> [String] {
        var lines = unusableFiles.prefix(limit).map { file in
            indent + "unusable".padding(toLength: 10, withPad: " ", startingAt: 0) + " \(file.path): \(file.reason)"
        }
        if unusableFiles.count > limit {
            lines.append(indent + "… and \(unusableFiles.count - limit) more unusable files (calibctl frames --problems)")
        }
        return lines
    }

    /// What `calibd --once` prints after its counts line: per night the
    /// verdict, the products made by type and what did not pass — not every
    /// metric (`calibctl qc show`, the report) — and where to look further.
    /// - Parameter reports: where the reports are written (`<workspace>/reports`), named in the last line.
    public static func batchSummary(_ verdicts: [NightVerdict], reports: String? = nil) -> String {
        var lines: [String] = []
        for verdict in verdicts {
            lines.append(verdict.summaryLine)
            lines.append("  " + verdict.madeLine)
            lines += verdict.problemLines()
        }
        if let last = verdicts.last {
            lines.append("")
            let report = reports.map { "\($0)/\(last.night)/index.html" } ?? "calibctl report --night \(last.night) --out DIR"
            lines.append("details: calibctl night \(last.night)   report: \(report)")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Product types made and counted, e.g. `made: MBIAS 2, MDARK 2, MFLAT 2 (1 QC-failed)`.
    public var madeLine: String {
        var counts: [String: (made: Int, failed: Int)] = [:]
        for product in items.flatMap(\.products) {
            counts[product.type.rawValue, default: (0, 0)].made += 1
            if !product.qcPassed { counts[product.type.rawValue]!.failed += 1 }
        }
        guard !counts.isEmpty else { return "made: nothing" }
        return "made: " + counts.sorted { $0.key < $1.key }.map { type, c in
            "\(type) \(c.made)" + (c.failed > 0 ? " (\(c.failed) QC-failed)" : "")
        }.joined(separator: ", ")
    }
}

extension NightVerdict.ExpectedProduct {
    /// The shortest useful reason: the first failing metric, or the reason's first clause.
    var headline: String {
        if let first = failedMetrics.first { return first.description + (failedMetrics.count > 1 ? " (+\(failedMetrics.count - 1))" : "") }
        let reason = reason ?? ""
        return reason.count > 90 ? String(reason.prefix(89)) + "…" : reason
    }
}

extension NightVerdict.Outcome {
    /// The word a person reads in listings.
    public var word: String {
        switch self {
        case .passed: "passed"
        case .qcFailed: "QC-failed"
        case .failed: "failed"
        case .waiting: "waiting"
        case .notPossible: "missing"
        }
    }
}
