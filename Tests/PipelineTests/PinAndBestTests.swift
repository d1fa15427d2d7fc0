import CalibDB
import Foundation
import GRDB
@testable import Pipeline
import Testing

/// Issue #14, part 1, through the real binaries: pins and `best` cannot
/// serve a product of another setup or one that failed QC, and say what
/// they matched on.
@Suite("Pins and best serve only the right calibration", .serialized)
struct PinAndBestTests {
    /// A two-arm night processed by `calibd --once`, with the BLUE DISP_MAP
    /// made to have failed QC and the RED one to have passed (at 256² the
    /// arc fits' own verdicts vary with the noise; they are not at issue).
    func night() throws -> (ws: TestWorkspace, blueMap: Int64, redMap: Int64, blueBias: Int64) {
        let ws = try TestWorkspace()
        try ws.simulate(size: 256, arms: "BLUE,RED")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        let database = try CalibrationDatabase(path: ws.database)
        let maps = try database.products(type: .dispersionMap)
        let blue = try #require(maps.first { $0.setup.contains("arm=BLUE") }?.id)
        let red = try #require(maps.first { $0.setup.contains("arm=RED") }?.id)
        let bias = try #require(try database.products(type: .masterBias).first { $0.setup.contains("arm=BLUE") }?.id)
        let queue = try DatabaseQueue(path: ws.database)
        try queue.write { db in
            try db.execute(sql: "UPDATE product SET qc_passed = 0 WHERE id = ?", arguments: [blue])
            try db.execute(sql: "UPDATE product SET qc_passed = 1 WHERE id = ?", arguments: [red])
        }
        return (ws, blue, red, bias)
    }

    @Test("pin add refuses a QC-failed product without --force and a product of another arm even with it")
    func pinRefusals() throws {
        let (ws, blueMap, _, blueBias) = try night()
        defer { ws.remove() }
        // Given the BLUE DISP_MAP that failed QC, pinned without --setup
        let failed = try ws.calibctl(["pin", "add", "\(blueMap)", "--from", "2026-11-21"])
        #expect(failed.status == 65)
        #expect(failed.stderr.contains("pin refused: product \(blueMap) failed QC"), "\(failed.stderr)")
        #expect(failed.stderr.contains("--force"))
        // A BLUE master bias pinned for RED: refused, and --force does not change that
        let otherArm = try ws.calibctl(["pin", "add", "\(blueBias)", "--from", "2026-11-19", "--setup", "arm=RED"])
        #expect(otherArm.status == 65)
        #expect(otherArm.stderr.contains("is a MBIAS of arm=BLUE, not arm=RED"), "\(otherArm.stderr)")
        let forcedOtherArm = try ws.calibctl(["pin", "add", "\(blueBias)", "--from", "2026-11-19", "--setup", "arm=RED",
                                              "--force", "--note", "try"])
        #expect(forcedOtherArm.status == 65)
        #expect(forcedOtherArm.stderr.contains("not even with --force"))
        // --force without a reason, a product that does not exist, nights in the wrong order
        #expect(try ws.calibctl(["pin", "add", "\(blueMap)", "--from", "2026-11-21", "--force"]).stderr.contains("--force needs --note"))
        let missing = try ws.calibctl(["pin", "add", "999999", "--from", "2026-11-21"])
        #expect(missing.status == 66 && missing.stderr.contains("no product 999999"))
        #expect(try ws.calibctl(["pin", "add", "\(blueBias)", "--from", "2026-11-22", "--to", "2026-11-21"]).status == 64)
        // Nothing was pinned
        #expect(try #require(try ws.json(["pin", "list"]) as? [Any]).isEmpty)
    }

    @Test("best completes or refuses a partial setup, says what it matched, and never answers another arm's product")
    func bestSetup() throws {
        let (ws, blueMap, redMap, _) = try night()
        defer { ws.remove() }
        // Without --setup the two arms' products disagree on arm: refused with the values
        let open = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21"])
        #expect(open.status == 64)
        #expect(open.stderr.contains("differ in arm (BLUE, RED)"), "\(open.stderr)")
        // arm=RED alone: binning completed from the candidates (all agree), said so, and every match key checked
        let red = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21", "--setup", "arm=RED"])
        #expect(red.status == 0, "\(red.stderr)")
        #expect(red.stdout.contains(": product \(redMap)\n"))
        #expect(red.stdout.contains("setup completed: binx=16 biny=16"))
        #expect(red.stdout.contains("setup matches on arm, binx, biny"))
        #expect(!red.stdout.contains("setup matches on \n"))
        // BLUE's only DISP_MAP failed QC: nothing qualifies (exit 2), and RED's is not offered instead
        let blue = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21", "--setup", "arm=BLUE", "--explain"])
        #expect(blue.status == 2)
        #expect(blue.stdout.contains("no usable DISP_MAP"))
        #expect(blue.stdout.contains("failed QC"))
        #expect(!blue.stdout.contains("product \(redMap)\n"))
        _ = blueMap
        // Types and setup keys as people type them
        #expect(try ws.calibctl(["best", "--type", "mbias", "--night", "2026-11-21", "--setup", "ARM=RED"]).status == 0)
        let badKey = try ws.calibctl(["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "binz=1"])
        #expect(badKey.status == 64 && badKey.stderr.contains("did you mean binx?"))
        // One instrument's products in the database: no --instrument needed even for a type no recipe names as its product
        let blaze = try ws.calibctl(["best", "--type", "BLAZE", "--night", "2026-11-21", "--setup", "arm=RED"])
        #expect(!blaze.stderr.contains("--instrument"), "\(blaze.stderr)")
        #expect(blaze.stdout.contains("SIMECH"))
    }

    @Test("A forced pin is recorded and shown; a pin from an old database never serves another arm, in best or in the planner")
    func forcedAndOldPins() throws {
        let (ws, blueMap, redMap, _) = try night()
        defer { ws.remove() }
        // Given the QC-failed BLUE DISP_MAP pinned with --force and a reason
        let forced = try ws.calibctl(["pin", "add", "\(blueMap)", "--from", "2026-11-21", "--force", "--note", "only arc of the run"])
        #expect(forced.status == 0, "\(forced.stderr)")
        #expect(forced.stdout.contains("DISP_MAP SIMECH arm=BLUE binx=16 biny=16"))
        #expect(forced.stdout.contains("FORCED over: product \(blueMap) failed QC"))
        let list = try ws.calibctl(["pin", "list"])
        #expect(list.stdout.contains("FORCED over: product \(blueMap) failed QC"))
        #expect(list.stdout.contains("only arc of the run"))
        #expect(list.stdout.contains("via calibctl"))
        let pins = try #require(try ws.json(["pin", "list"]) as? [[String: Any]])
        #expect(pins.first?["forced"] as? Bool == true)
        // Then best serves it for BLUE, saying who forced it and why, and not for RED
        let blue = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21", "--setup", "arm=BLUE", "--explain"])
        #expect(blue.status == 0, "\(blue.stderr)")
        #expect(blue.stdout.contains(": product \(blueMap)\n"))
        #expect(blue.stdout.contains("FORCED over: product \(blueMap) failed QC: only arc of the run"))
        let red = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21", "--setup", "arm=RED"])
        #expect(red.stdout.contains(": product \(redMap)\n"))

        // Given a pin as old databases hold them: no setup, not forced, the BLUE product
        let queue = try DatabaseQueue(path: ws.database)
        try queue.write { db in
            try db.execute(sql: "DELETE FROM pin")
            try db.execute(sql: """
                INSERT INTO pin (product_id, product_type, instrument, first_night, last_night, setup, note, created_by, created_at)
                VALUES (?, 'DISP_MAP', 'SIMECH', '2026-11-21', '2026-11-21', '', 'old pin', 'someone', 0)
                """, arguments: [blueMap])
        }
        // Then RED is answered with the RED product and the pin is set aside with the reason
        let redAgain = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21", "--setup", "arm=RED"])
        #expect(redAgain.stdout.contains(": product \(redMap)\n"), "\(redAgain.stdout)")
        #expect(redAgain.stdout.contains("set aside: the product's setup arm=BLUE is not the requested arm=RED"))
        // And BLUE is not served the QC-failed product by an unforced pin
        let blueAgain = try ws.calibctl(["best", "--type", "DISP_MAP", "--night", "2026-11-21", "--setup", "arm=BLUE"])
        #expect(blueAgain.status == 2)
        #expect(blueAgain.stdout.contains("failed QC and the pin was not forced"))
        // And the planner hands RED recipes the RED DISP_MAP
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let database = try CalibrationDatabase(path: ws.database)
        let redJobs = try database.jobs().filter { ["spatial_solution", "lamp_flux"].contains($0.recipe) && $0.setup.contains("arm=RED") }
        #expect(!redJobs.isEmpty)
        for job in redJobs {
            for choice in try database.calibrationChoices(ofJob: job.id!) where choice.type == .dispersionMap {
                #expect(choice.productId == redMap, "job \(job.id!) \(job.recipe) was given DISP_MAP \(choice.productId)")
            }
        }
        #expect(try database.jobs().filter { ["spatial_solution", "lamp_flux"].contains($0.recipe) && $0.setup.contains("arm=BLUE") }.isEmpty)
    }

    @Test("Every QC metric of a real night's products is one its recipe declares")
    func declaredMetrics() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        try ws.simulate(size: 512, arms: "BLUE,RED")
        #expect(try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"]).batchRanToEnd)
        let database = try CalibrationDatabase(path: ws.database)
        var recipes: Set<String> = []
        for product in try database.products() {
            let executor = try #require(RecipeCatalog.executors[product.recipe])
            recipes.insert(product.recipe)
            for metric in try database.metrics(ofProduct: product.id!) {
                #expect(executor.metricNames.contains(metric.name), "\(product.recipe) emits \(metric.name), which it does not declare")
            }
        }
        #expect(recipes.count >= 6, "only \(recipes.sorted()) ran")
    }
}
