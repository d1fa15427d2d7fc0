import CSV
import Foundation
import Testing

/// Every `--json` answer and `export --format json` checked against the JSON
/// Schema files shipped in `docs/schema/`, on a real processed night: the
/// documentation and the output cannot drift apart.
@Suite("JSON answers follow their schemas", .serialized)
struct JSONSchemaTests {
    static let schemaDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("docs/schema").path

    let validator = JSONSchemaValidator(directory: Self.schemaDirectory)

    /// Runs `calibctl … --json` (or an export), checks the exit status and validates the answer.
    @discardableResult
    func check(_ ws: TestWorkspace, _ arguments: [String], schema: String, list: Bool, status: Int32 = 0,
               sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONNode {
        let result = try ws.calibctl(arguments)
        #expect(result.status == status, "calibctl \(arguments): \(result.stderr)", sourceLocation: sourceLocation)
        let answer = try JSONNode.parse(result.stdout)
        let items: [JSONNode]
        if list {
            items = try #require(answer.array, "calibctl \(arguments) did not answer a list", sourceLocation: sourceLocation)
        } else {
            items = [answer]
        }
        for item in items {
            let problems = try validator.validate(item, against: schema + ".schema.json")
            #expect(problems.isEmpty, "calibctl \(arguments.joined(separator: " ")): \(problems.prefix(5).joined(separator: "\n"))",
                    sourceLocation: sourceLocation)
        }
        return answer
    }

    @Test("The validator itself rejects what the schemas forbid")
    func validatorRejects() throws {
        let good = try JSONNode.parse(#"{"productId": 1, "name": "readNoiseADU", "value": 2.5, "unit": "ADU", "min": null, "max": 8, "passed": true}"#)
        #expect(try validator.validate(good, against: "qc-metric.schema.json").isEmpty)
        let stringly = try JSONNode.parse(#"{"productId": "1", "name": "x", "value": "2.5", "unit": "ADU", "min": null, "max": 8, "passed": "true"}"#)
        #expect(try validator.validate(stringly, against: "qc-metric.schema.json").count == 3)
        let extra = try JSONNode.parse(#"{"id": 1, "productId": 2, "type": "MBIAS", "instrument": "SIMECH", "firstNight": {"day": 21}, "lastNight": "2026-11-21", "setup": {"values": {}}, "note": "", "createdBy": "x"}"#)
        let problems = try validator.validate(extra, against: "pin.schema.json")
        #expect(problems.contains { $0.contains("$.firstNight") })
        #expect(problems.contains { $0.contains("$.setup.values") })
        let badTime = try JSONNode.parse(#"{"running": false, "paused": false, "owner": null, "startedAt": "1796642691.47", "heartbeatAt": null, "watch": [], "jobs": {}, "frames": 0, "database": "x"}"#)
        #expect(try validator.validate(badTime, against: "status.schema.json") == ["$.startedAt: '1796642691.47' is not a date-time"])
    }

    @Test("Every --json answer and every JSON export of a processed night validates; CSV has the same columns")
    func everyAnswer() throws {
        let ws = try TestWorkspace()
        defer { ws.remove() }
        // 1024² (4×4 binning): the smallest size at which the arc recipes pass QC and a LAMP_FLUX product is made.
        try ws.simulate(size: 1024, arms: "RED")
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.status == 0, "\(run.stderr)")

        let frames = try check(ws, ["frames", "--json"], schema: "frame", list: true)
        #expect((frames.array?.count ?? 0) > 10)
        try check(ws, ["frames", "--problems", "--json"], schema: "frame", list: true)
        let jobs = try check(ws, ["jobs", "--json"], schema: "job", list: true)
        let firstJob = try #require(jobs.array?.first)
        // Parameters are an object, not JSON text in a string
        #expect(firstJob["parameters"]?.object != nil)
        if case .integer(let id)? = firstJob["id"] {
            try check(ws, ["job", "show", "\(id)", "--json"], schema: "job-detail", list: false)
        } else { Issue.record("a job without an integer id") }

        let calibs = try check(ws, ["calibs", "--json"], schema: "product", list: true)
        let bias = try #require(calibs.array?.first { $0["type"]?.string == "MBIAS" && $0["setup"]?["arm"]?.string == "RED" })
        guard case .integer(let biasId)? = bias["id"] else { Issue.record("no product id"); return }
        let best = try check(ws, ["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "arm=RED", "--json"],
                             schema: "best", list: false)
        #expect(best["chosen"]?["id"] == .integer(biasId))
        let none = try check(ws, ["best", "--type", "MBIAS", "--night", "2026-11-21", "--setup", "arm=GREEN", "--json"],
                             schema: "best", list: false, status: 2)
        #expect(none["chosen"] == JSONNode.null)

        let status = try check(ws, ["status", "--json"], schema: "status", list: false)
        #expect(status["startedAt"] != nil)
        try check(ws, ["qc", "show", "\(biasId)", "--json"], schema: "qc-metric", list: true)
        try check(ws, ["qc", "trend", "readNoiseADU", "--type", "MBIAS", "--json"], schema: "qc-trend-point", list: true)
        try check(ws, ["qc", "reevaluate", "--json"], schema: "qc-reevaluation", list: true)
        #expect(try ws.calibctl(["pin", "add", "\(biasId)", "--from", "2026-11-25", "--note", "schema test"]).status == 0)
        let pins = try check(ws, ["pin", "list", "--json"], schema: "pin", list: true)
        #expect(pins.array?.first?["firstNight"] == .string("2026-11-25"))
        try check(ws, ["verify", "--json"], schema: "verify-report", list: false)
        let raw = try #require(try FileManager.default.subpathsOfDirectory(atPath: ws.raw).first { $0.hasSuffix(".fits") })
        try check(ws, ["ingest", ws.raw + "/" + raw, "--json"], schema: "ingest-outcome", list: true)

        // lamp-flux honours --lines in its JSON as in its table
        let lampFlux = try check(ws, ["lamp-flux", "--setup", "arm=RED", "--lines", "3", "--json"], schema: "lamp-flux", list: false)
        #expect(lampFlux["lines"]?.array?.count == 3)

        // export: the same entities, the same keys, in JSON and CSV
        for (table, schema) in [("frames", "frame"), ("jobs", "job"), ("products", "product"), ("qc", "qc-metric")] {
            let exported = try check(ws, ["export", table, "--format", "json"], schema: schema, list: true)
            let first = try #require(exported.array?.first?.object, "export \(table) is empty")
            let csv = try ws.calibctl(["export", table, "--format", "csv"])
            #expect(csv.status == 0)
            let reader = try CSVReader(string: csv.stdout, hasHeaderRow: true)
            #expect(reader.headerRow == first.keys.sorted(), "export \(table): CSV columns differ from the JSON keys")
            var rows = 0
            while let row = reader.next() {
                rows += 1
                #expect(row.count == first.count)
            }
            #expect(rows == exported.array?.count)
        }
        // The same product in --json and export: same keys, same values (less the QC, which export keeps in its own table)
        let exportedProducts = try #require(try JSONNode.parse(ws.calibctl(["export", "products", "--format", "json"]).stdout).array)
        let exportedBias = try #require(exportedProducts.first { $0["id"] == .integer(biasId) }?.object)
        var listed = try #require(bias.object)
        listed["qc"] = nil
        #expect(exportedBias == listed)
    }
}
