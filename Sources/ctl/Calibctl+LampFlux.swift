import ArgumentParser
import CalibCore
import CalibDB
import Foundation
import Pipeline

extension Calibctl {
    /// A lamp's line fluxes across nights (`LampFluxHistory`), to catch ageing lamps.
    struct LampFlux: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lamp-flux",
            abstract: "Show an arc lamp's line fluxes across nights, to catch an ageing lamp.",
            discussion: """
                Reads the LAMP_FLUX products (oldest first, superseded ones left out) of one setup and lamp,
                matches lines across nights by order and wavelength and prints the brightest lines' fluxes
                in ADU/s with, per night, the median change against the first night shown.
                '—' marks a line not measured that night or saturated (see the product's FLAG column).

                Example: calibctl lamp-flux --setup arm=RED --lamp ThAr --lines 15
                """)
        @OptionGroup var global: GlobalOptions
        @OptionGroup var output: OutputOptions
        @Option(help: "Setup terms key=value (repeatable); products must match every term.") var setup: [String] = []
        @Option(help: "Only this lamp (the input frame's lamp label).") var lamp: String?
        @Option(help: "Only nights from this one on (YYYY-MM-DD).") var from: String?
        @Option(help: "Only nights up to this one (YYYY-MM-DD).") var to: String?
        @Option(help: "How many of the brightest lines to list.") var lines = 10

        func validate() throws {
            _ = try InputValidator.night(ifGiven: from, option: "--from")
            _ = try InputValidator.night(ifGiven: to, option: "--to")
            guard lines > 0 else { throw ValidationError("--lines must be positive") }
        }

        func run() throws {
            let configuration = try global.loadConfiguration()
            let database = try global.openDatabase(readOnly: true)
            let wanted = try InputValidator.setup(setup, keys: Set(configuration.profiles.flatMap(\.setupKeys.keys)).sorted())
            let lamp = try self.lamp.map { try InputValidator.lamp($0, in: configuration, recorded: try database.frameLamps()) }
            let products = try database.products(type: .lampFlux, includeSuperseded: false).filter { p in
                guard let s = try? Setup(parsing: p.setup) else { return false }
                return wanted.values.allSatisfy { s[$0.key] == $0.value }
                    && (from.map { p.night >= $0 } ?? true) && (to.map { p.night <= $0 } ?? true)
            }
            var skipped: [String] = []
            var history = LampFluxHistory.load(products, skipped: &skipped)
            if let lamp {
                let keep = history.nights.indices.filter { history.nights[$0].lamp == lamp }
                history.nights = keep.map { history.nights[$0] }
                history.lines = history.lines.map { line in
                    var l = line
                    l.fluxADUPerSecond = keep.map { line.fluxADUPerSecond[$0] }
                    return l
                }
            }
            for message in skipped { FileHandle.standardError.write(Data("calibctl: skipped \(message)\n".utf8)) }
            guard !history.nights.isEmpty else {
                throw UserFacingError(.noInput, "no LAMP_FLUX products match (setup '\(wanted.canonical)'\(lamp.map { ", lamp \($0)" } ?? ""))",
                                      remedy: "calibctl calibs --type LAMP_FLUX lists them with their setups")
            }
            // The brightest lines by their median flux over the nights; the JSON answer shows the same lines as the table.
            func median(_ v: [Double?]) -> Double {
                let s = v.compactMap { $0 }.sorted()
                return s.isEmpty ? -.infinity : s[s.count / 2]
            }
            let shown = history.lines.sorted { median($0.fluxADUPerSecond) > median($1.fluxADUPerSecond) }.prefix(lines)
            if output.json { return try printJSON(LampFluxJSON(history: history, lines: Array(shown))) }
            let header = ["ORDER", "λ (nm)"] + history.nights.map(\.night)
            var rows = shown.map { line in
                ["\(line.order)", String(format: "%.4f", line.wavelength)]
                    + line.fluxADUPerSecond.map { $0.map { String(format: "%.4g", $0) } ?? "—" }
            }
            rows.append(["", "change vs first"] + history.nights.map { night in
                night.medianChange.map { String(format: "%+.1f %% (%d lines)", 100 * $0, night.sharedLines) } ?? "—"
            })
            let lamps = Set(history.nights.map(\.lamp)).sorted().joined(separator: ", ")
            print("LAMP_FLUX \(wanted.canonical.isEmpty ? "(all setups)" : wanted.canonical), lamp \(lamps.isEmpty ? "?" : lamps): line fluxes in ADU/s")
            print(table(header, rows))
        }
    }
}
