import CalibCore
import Foundation
import Pipeline
import Testing

/// The verdict's words, from values alone (no database): what the summary line says and when a night is complete.
@Suite("Night verdict in words")
struct NightVerdictTextTests {
    func item(_ recipe: String, _ outcome: NightVerdict.Outcome, reason: String? = nil,
              failed: [NightVerdict.MetricFailure] = []) -> NightVerdict.ExpectedProduct {
        NightVerdict.ExpectedProduct(instrument: "SIMECH", recipe: recipe, productType: .masterBias, setup: "arm=BLUE", outcome: outcome,
                                     reason: reason, jobId: 1, products: [], failedMetrics: failed)
    }

    @Test("Everything passed and settled: complete, with the count")
    func complete() {
        let verdict = NightVerdict(night: "2026-11-21", items: [item("mbias", .passed), item("mflat", .passed)], unusableFiles: [],
                                   frameCount: 10, isSettled: true)
        #expect(verdict.isComplete)
        #expect(verdict.summaryLine == "night 2026-11-21 complete: 2/2 products QC-passed, 0 missing")
        #expect(verdict.problemLines().isEmpty)
    }

    @Test("A QC failure and a missing set are named with the metric and the reason; unusable files are counted")
    func incomplete() {
        let failure = NightVerdict.MetricFailure(productType: .masterFlat, name: "flatRMS", value: 0.31, unit: "", min: 0, max: 0.1)
        let verdict = NightVerdict(
            night: "2026-11-22",
            items: [item("mbias", .passed), item("mflat", .qcFailed, reason: failure.description, failed: [failure]),
                    item("mdark", .notPossible, reason: "no DARK frames for arm=BLUE (needs ≥ 3)")],
            unusableFiles: [.init(frameId: 7, path: "/raw/2026-11-22/x.fits", reason: "not a FITS file")],
            frameCount: 9, isSettled: true)
        #expect(!verdict.isComplete)
        #expect(verdict.summaryLine == "night 2026-11-22 incomplete: 1/3 QC-passed, 1 QC-failed (mflat arm=BLUE: flatRMS=0.31 outside [0, 0.1]), "
                + "1 missing (mdark arm=BLUE: no DARK frames for arm=BLUE (needs ≥ 3)), 1 unusable file")
        let lines = verdict.problemLines()
        #expect(lines.count == 3)
        #expect(lines.last == "  unusable   /raw/2026-11-22/x.fits: not a FITS file")
    }

    @Test("Work still to run: not finished, and never complete even if all made so far passed")
    func unsettled() {
        let verdict = NightVerdict(night: "2026-11-23", items: [item("mbias", .passed), item("mflat", .waiting, reason: "job 4 is queued")],
                                   unusableFiles: [], frameCount: 8, isSettled: false)
        #expect(!verdict.isComplete)
        #expect(verdict.summaryLine.hasPrefix("night 2026-11-23 not finished: 1/2 QC-passed, 1 waiting (mflat arm=BLUE: job 4 is queued)"))
        let nothing = NightVerdict(night: "2026-11-24", items: [], unusableFiles: [], frameCount: 0, isSettled: true)
        #expect(!nothing.isComplete, "a night that made nothing is not complete")
    }
}
