import ArgumentParser
import CalibCore
import Foundation
import Pipeline
import Simulator

extension Calibctl {
    struct Simulate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write one simulated night of raw frames for the SIMECH instrument, and its truth.",
            discussion: """
                Frames go to OUT/raw/NIGHT/, the truth (truth.json, pixel-response maps) to OUT/truth/NIGHT/. \
                The instrument model and the ThAr line list are read from the configuration directory \
                (simulator/simechelle.yaml, linelists/thar_nist_pypeit.dat). Deterministic for a seed.

                Examples:
                  calibctl simulate --out /tmp/sim --night 2026-11-21
                  calibctl simulate --out /tmp/sim --size 1024 --arms RED --seed 7

                Another instrument is simulated from its shipped static pinhole maps when \
                simulator/<instrument>.yaml describes it: biases, flats, order definitions, single- and \
                multi-pinhole arcs, lines and orders where ESO's physical model puts them plus a night shift in the truth:
                  calibctl simulate --instrument XSHOOTER --arms VIS --binning 1x2 --out /tmp/xsh
                  calibctl simulate --instrument SOXS --arms VIS,NIR --out /tmp/soxs
                With --bad-pixels, the arm's shipped static bad pixels respond at 0.3 of a normal pixel.
                The NIR arm has no bias: darks at the lamp frames' DIT and NDIT, and each lamp frame followed by \
                its lamp-off twin (DPR TYPE DARK).

                A multi-slit or long-slit spectrograph (a simulator model naming a maskFile: SIMMOS, SIMLS) \
                writes biases, through-slit flats and an arc through its mask, with the OPT positions and \
                slit edges in the truth:
                  calibctl simulate --instrument SIMMOS --out /tmp/mos
                """)

        @Option(help: "Configuration file; its directory holds the simulator model and line list.")
        var config: String?
        @Option(help: "Output directory.") var out: String
        @Option(help: "Observing night YYYY-MM-DD (default: the current UTC date).") var night: String?
        @Option(help: "Random seed.") var seed: UInt64 = 1
        @Option(help: "Frame size in pixels (the detector is 4096 px; smaller sizes bin it).") var size: Int = 4096
        @Option(help: "Arms to simulate, comma-separated (default: all).") var arms: String?
        @Option(help: "Lamp intensity of each flat relative to nominal, comma-separated (e.g. 1,0.6,1.3,1,1 for a flickering lamp; 0 for lamp off).")
        var flatScales: String?
        @Flag(help: "Print each frame as it is written.") var verbose = false
        @Option(help: "Instrument to simulate: SIMECH (default), or one with simulator/<instrument>.yaml (XSHOOTER, SOXS).")
        var instrument: String = "SIMECH"
        @Option(help: "Binning BXxBY of a static-model instrument (e.g. 1x2; default 1x1).") var binning: String = "1x1"
        @Flag(help: "Static-model instrument: inject the arm's shipped static bad pixels (<INSTRUMENT>_<ARM>_bad_pixels.csv) as low-response pixels.")
        var badPixels = false

        func validate() throws {
            guard (128...8192).contains(size) else { throw ValidationError("--size must be between 128 and 8192") }
            if let night, ObservingNight(night) == nil { throw ValidationError("--night must be YYYY-MM-DD, got '\(night)'") }
        }

        func run() throws {
            let configPath = config ?? ConfigurationLocator.candidates().first { FileManager.default.fileExists(atPath: $0) }
            guard let configPath else { throw ValidationError("no configuration found; pass --config FILE") }
            let base = URL(fileURLWithPath: configPath).deletingLastPathComponent().path
            guard instrument.uppercased() == "SIMECH" else {
                try simulateStaticModel(base: base)
                return
            }
            var simulator = try NightSimulator(modelPath: base + "/simulator/simechelle.yaml",
                                               lineListPath: base + "/linelists/thar_nist_pypeit.dat")
            if let flatScales {
                let scales = try flatScales.split(separator: ",").map { text -> Double in
                    guard let v = Double(text.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                        throw ValidationError("--flat-scales takes non-negative numbers, got '\(text)'")
                    }
                    return v
                }
                for i in simulator.plan.blocks.indices where simulator.plan.blocks[i].kind == .flat {
                    simulator.plan.blocks[i].count = scales.count
                    simulator.plan.blocks[i].lampScales = scales
                }
            }
            let theNight = night.flatMap(ObservingNight.init) ?? ObservingNight(mjdDate: Date().timeIntervalSince1970 / 86400 + 40587)
            let armList = arms?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
            let started = Date()
            let result = try simulator.simulate(into: out, night: theNight, seed: seed, size: size, arms: armList) { line in
                if verbose { print(line) }
            }
            print("simulated \(result.files.count) raw frames of \(size)×\(size) for night \(theNight) "
                  + "in \(String(format: "%.1f", Date().timeIntervalSince(started))) s")
            print("raw:   \(result.rawDirectory)")
            print("truth: \(result.truthDirectory)/truth.json")
        }

        /// A static-model instrument (`simulator/<instrument>.yaml`), e.g. X-shooter's CCD arms.
        private func simulateStaticModel(base: String) throws {
            let modelPath = base + "/simulator/\(instrument.lowercased()).yaml"
            guard let modelText = try? String(contentsOfFile: modelPath, encoding: .utf8) else {
                throw ValidationError("--instrument \(instrument): no simulator model \(modelPath) (SIMECH and the instruments with one can be simulated)")
            }
            if modelText.split(separator: "\n").contains(where: { $0.hasPrefix("maskFile:") }) {
                try simulateMultiSlit(base: base)
                return
            }
            let factors = binning.lowercased().split(separator: "x").compactMap { Int($0) }
            guard factors.count == 2, factors.allSatisfy({ (1...4).contains($0) }) else {
                throw ValidationError("--binning takes BXxBY with factors 1-4, e.g. 1x2; got '\(binning)'")
            }
            let staticDirectory = base + "/static", name = instrument.uppercased()
            var simulator = try StaticModelNightSimulator(modelPath: modelPath, staticDirectory: staticDirectory) { arm, bx, by in
                try StaticNominalModel.load(staticDirectory: staticDirectory, instrument: name, arm: arm, binx: bx, biny: by)
            }
            simulator.injectBadPixels = badPixels
            let theNight = night.flatMap(ObservingNight.init) ?? ObservingNight(mjdDate: Date().timeIntervalSince1970 / 86400 + 40587)
            let armList = arms?.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } ?? []
            let files = try simulator.simulate(into: out, night: theNight, seed: seed, arms: armList, binx: factors[0], biny: factors[1])
            if verbose { files.forEach { print($0) } }
            print("simulated \(files.count) raw \(simulator.instrument.instrument) frames (binning \(factors[0])x\(factors[1])) for night \(theNight)")
            print("raw:   \(out)/raw/\(theNight)")
            print("truth: \(out)/truth/\(theNight)/truth.json")
        }
    
        /// A multi-slit or long-slit spectrograph (`simulator/<instrument>.yaml` naming its mask).
        private func simulateMultiSlit(base: String) throws {
            let spectrograph = try MultiSlitSpectrograph.load(configurationDirectory: URL(fileURLWithPath: base),
                                                              modelFile: "\(instrument.lowercased()).yaml")
            let theNight = night.flatMap(ObservingNight.init) ?? ObservingNight(mjdDate: Date().timeIntervalSince1970 / 86400 + 40587)
            let files = try MultiSlitNightSimulator(spectrograph).simulate(into: out, night: theNight, seed: seed)
            if verbose { files.forEach { print($0) } }
            print("simulated \(files.count) raw \(spectrograph.model.name) frames (mask \(spectrograph.mask.name), "
                  + "\(spectrograph.mask.slits.count) slits, \(spectrograph.mask.holes.count) holes) for night \(theNight)")
            print("raw:   \(out)/raw/\(theNight)")
            print("truth: \(out)/truth/\(theNight)/truth.json")
        }
    }
}
