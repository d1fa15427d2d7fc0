import CalibCore
import CalibDB
import FITS
import Foundation
@testable import Pipeline
import Recipes
import Simulator
import Testing

/// A simulated multi-slit night (`calibctl simulate --instrument SIMMOS`) reduced by
/// `calibd --once`: MBIAS → OPT_MODEL (on the arc) → CRV_MODEL (on the flats) → IDS_MODEL (per slit), with no person
/// in the loop, and the products compared with the simulator's truth.
@Suite("End to end: a simulated multi-slit night against its truth", .serialized)
struct SimulatedMOSEndToEndTests {
    @Test("calibd --once on a simulated MOS night: OPT positions and every slit's edges within 0.05 px of the truth, every slit's wavelengths within 0.02 px at its centre and 0.04 px along it, QC passed")
    func mosNight() throws {
        // Given a simulated SIMMOS night (5 biases, 3 flats, 1 arc through a 20-slit mask with 2 holes)
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let simulate = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--instrument", "SIMMOS",
                                                          "--out", ws.simulation, "--night", "2026-11-21", "--seed", "5"])
        #expect(simulate.status == 0, "\(simulate.stderr)")
        // When calibd reduces it once
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        #expect(run.status == 0 && run.stdout.contains("night 2026-11-21 complete: 4/4 products QC-passed, 0 missing"), "\(run.stdout)")
        // Then the OPT model places every slit end, slit centre and hole where the truth does
        let truth = try JSONDecoder().decode(MultiSlitNightSimulator.Truth.self,
                                             from: Data(contentsOf: URL(fileURLWithPath: ws.simulation + "/truth/2026-11-21/truth.json")))
        let database = try CalibrationDatabase(path: ws.database)
        let opt = try #require(try database.products(type: .opticalModel).first)
        let poly = try OpticalModelFile.readPolynomials(path: opt.path)
        var worstOPT = 0.0
        for aperture in truth.apertures {
            for (m, d) in zip(aperture.maskPoints, aperture.opticalPositions) {
                let error = max(abs(poly.x.evaluate(m[0], m[1]) - d[0]), abs(poly.y.evaluate(m[0], m[1]) - d[1]))
                worstOPT = max(worstOPT, error)
                #expect(error < 0.05, "\(aperture.id) at (\(m[0]), \(m[1])) mm: \(error) px from the truth")
            }
        }
        // And the CRV model has both edges of every slit, within 0.05 px of the truth on every traced row
        let crv = try #require(try database.products(type: .curvatureModel).first)
        let file = try FITSFile.open(crv.path)
        defer { try? file.close() }
        try file.moveTo(extensionName: OpticalModelFile.edgeTableName)
        let table = try file.readTable()
        let slits = try #require(table.strings("SLIT")).map { $0.trimmingCharacters(in: .whitespaces) }
        let edges = try #require(table.strings("EDGE")).map { $0.trimmingCharacters(in: .whitespaces) }
        let deg = try #require(table.doubleVectors("DEG")), off = try #require(table.doubleVectors("OFFSET"))
        let half = try #require(table.doubleVectors("HALFRANGE")), coeffs = try #require(table.doubleVectors("COEFFS"))
        let ymin = try #require(table.doubles("YMIN")), ymax = try #require(table.doubles("YMAX"))
        let truthSlits = truth.apertures.filter { !$0.isHole }
        #expect(slits.count == 2 * truthSlits.count)
        var worstCRV = 0.0
        for k in slits.indices {
            let aperture = try #require(truthSlits.first { $0.id == slits[k] })
            let curve = PolynomialSurface(degrees: deg[k].map { Int($0) }, offsets: off[k], halfRanges: half[k], coefficients: coeffs[k])
            #expect(ymax[k] - ymin[k] > 0.8 * 512, "\(slits[k]) \(edges[k]) traced over \(ymin[k])...\(ymax[k])")
            for (i, y) in aperture.edgeRows.enumerated() where y >= ymin[k] && y <= ymax[k] {
                let t = edges[k] == "LOW" ? aperture.lowEdges[i] : aperture.highEdges[i]
                worstCRV = max(worstCRV, abs(curve.evaluate(y, 0) - t))
                #expect(abs(curve.evaluate(y, 0) - t) < 0.05, "\(slits[k]) \(edges[k]) row \(y): \(curve.evaluate(y, 0)) vs \(t)")
            }
        }
        // And every slit has a wavelength solution placing its unblended lines of SNR ≥ 100 where the truth does
        let spectrograph = try MultiSlitSpectrograph.load(configurationDirectory: URL(fileURLWithPath: ws.config).deletingLastPathComponent(),
                                                          modelFile: "simmos.yaml")
        let ids = try #require(try database.products(type: .inverseDispersionModel).first)
        let idsFile = try FITSFile.open(ids.path)
        defer { try? idsFile.close() }
        try idsFile.moveTo(extensionName: "MOS_WAVE")
        let waves = try idsFile.readTable()
        try idsFile.moveTo(extensionName: "MOS_LINES")
        let lines = try idsFile.readTable()
        let waveSlits = try #require(waves.strings("SLIT")).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Set(waveSlits) == Set(truthSlits.map(\.id)))
        let centres = try #require(waves.doubles("XCENTRE"))
        let wDeg = try #require(waves.doubleVectors("DEG")), wOff = try #require(waves.doubleVectors("OFFSET"))
        let wHalf = try #require(waves.doubleVectors("HALFRANGE")), wCoeffs = try #require(waves.doubleVectors("COEFFS"))
        let lineSlits = try #require(lines.strings("SLIT")).map { $0.trimmingCharacters(in: .whitespaces) }
        let lineWavelengths = try #require(lines.doubles("WAVELENGTH")), rows = try #require(lines.doubles("ROW"))
        let snr = try #require(lines.doubles("SNR")), used = try #require(lines.bools("USED"))
        var worstIDS = 0.0, checked = 0, within = 0
        for k in waveSlits.indices {
            let polynomial = PolynomialSurface(degrees: wDeg[k].map { Int($0) }, offsets: wOff[k], halfRanges: wHalf[k], coefficients: wCoeffs[k])
            let solution = MultiSlitWavelengthSolution.Result(polynomial: polynomial, lines: [], rmsPixels: 0, identificationRMS: 0)
            let index = try #require(spectrograph.apertures.firstIndex { $0.id == waveSlits[k] })
            for i in lineSlits.indices where lineSlits[i] == waveSlits[k] && used[i] && snr[i] >= 100 {
                let y = solution.row(of: lineWavelengths[i], near: rows[i])
                let truth = spectrograph.lineRow(aperture: index, wavelength: lineWavelengths[i] / 10, column: centres[k].rounded()).y
                worstIDS = max(worstIDS, abs(y - truth)); checked += 1
                if abs(y - truth) < 0.01 { within += 1 }
                #expect(abs(y - truth) < 0.02, "\(waveSlits[k]) \(lineWavelengths[i]) Å: \(y) vs \(truth)")
            }
        }
        #expect(checked >= 200 && Double(within) >= 0.95 * Double(checked), "\(within) of \(checked) lines within 0.01 px")
        // And along every slit (MOS_TILT): those lines placed where the truth puts them at every column between the slit's edges
        try idsFile.moveTo(extensionName: "MOS_TILT")
        let tilts = try idsFile.readTable()
        let tiltSlits = try #require(tilts.strings("SLIT")).map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(Set(tiltSlits) == Set(truthSlits.map(\.id)))
        let tDeg = try #require(tilts.doubleVectors("DEG")), tOff = try #require(tilts.doubleVectors("OFFSET"))
        let tHalf = try #require(tilts.doubleVectors("HALFRANGE")), tCoeffs = try #require(tilts.doubleVectors("COEFFS"))
        var worstTilt = 0.0, tiltChecked = 0, tiltWithin = 0
        for k in waveSlits.indices {
            let polynomial = PolynomialSurface(degrees: wDeg[k].map { Int($0) }, offsets: wOff[k], halfRanges: wHalf[k], coefficients: wCoeffs[k])
            let solution = MultiSlitWavelengthSolution.Result(polynomial: polynomial, lines: [], rmsPixels: 0, identificationRMS: 0)
            let t = try #require(tiltSlits.firstIndex(of: waveSlits[k]))
            let shift = PolynomialSurface(degrees: tDeg[t].map { Int($0) }, offsets: tOff[t], halfRanges: tHalf[t], coefficients: tCoeffs[t])
            let index = try #require(spectrograph.apertures.firstIndex { $0.id == waveSlits[k] })
            for i in lineSlits.indices where lineSlits[i] == waveSlits[k] && used[i] && snr[i] >= 100 {
                let y0 = solution.row(of: lineWavelengths[i], near: rows[i])
                let edge = spectrograph.edges(aperture: index, row: y0)
                for x in stride(from: (edge.low + 1).rounded(.up), through: edge.high - 1, by: 1) {
                    let truth = spectrograph.lineRow(aperture: index, wavelength: lineWavelengths[i] / 10, column: x).y
                    let found = y0 + shift.evaluate(x, y0)
                    worstTilt = max(worstTilt, abs(found - truth)); tiltChecked += 1
                    if abs(found - truth) < 0.01 { tiltWithin += 1 }
                    #expect(abs(found - truth) < 0.04, "\(waveSlits[k]) \(lineWavelengths[i]) Å column \(x): \(found) vs \(truth)")
                }
            }
        }
        #expect(tiltChecked >= 2000 && Double(tiltWithin) >= 0.9 * Double(tiltChecked), "\(tiltWithin) of \(tiltChecked) within 0.01 px")
        print("SIMMOS night: OPT worst \(worstOPT) px, CRV worst \(worstCRV) px, IDS \(within)/\(checked) within 0.01 px, worst \(worstIDS) px; "
              + "along the slits \(tiltWithin)/\(tiltChecked) within 0.01 px, worst \(worstTilt) px")
    }

    @Test("calibd --once on a simulated long-slit night: OPT along the slit and both edges within 0.05 px of the truth, λ(y) within 0.05 px, QC passed")
    func longSlitNight() throws {
        // Given a simulated SIMLS night (one 60 mm slit; 5 biases, 3 flats, 1 arc)
        let ws = try TestWorkspace()
        defer { ws.remove() }
        let simulate = try runCommand(Binaries.calibctl, ["simulate", "--config", ws.config, "--instrument", "SIMLS",
                                                          "--out", ws.simulation, "--night", "2026-11-21", "--seed", "5"])
        #expect(simulate.status == 0, "\(simulate.stderr)")
        // When calibd reduces it once with the long-slit chain (optmodel, slitedges, longslit_wave)
        let run = try runCommand(Binaries.calibd, ["--config", ws.config, "--once", "--log-level", "error"])
        #expect(run.batchRanToEnd, "\(run.stderr)")
        #expect(run.status == 0 && run.stdout.contains("night 2026-11-21 complete: 4/4 products QC-passed, 0 missing"), "\(run.stdout)")
        let spectrograph = try MultiSlitSpectrograph.load(configurationDirectory: URL(fileURLWithPath: ws.config).deletingLastPathComponent(),
                                                          modelFile: "simls.yaml")
        let database = try CalibrationDatabase(path: ws.database)
        // Then the OPT model follows the slit's image at λ_ref along its whole length
        let opt = try OpticalModelFile.readPolynomials(path: try #require(try database.products(type: .opticalModel).first).path)
        var worstOPT = 0.0
        for maskX in stride(from: -30.0, through: 30, by: 5) {
            let truth = spectrograph.opticalPosition(x: maskX, y: 0)
            let error = max(abs(opt.x.evaluate(maskX, 0) - truth.x), abs(opt.y.evaluate(maskX, 0) - truth.y))
            worstOPT = max(worstOPT, error)
            #expect(error < 0.05, "X = \(maskX) mm: \(error) px")
        }
        // And the CRV model's optical edges are the truth on every traced row
        let crv = try LongSlitFrames.readEdges(path: try #require(try database.products(type: .curvatureModel).first).path)
        var worstCRV = 0.0
        for y in stride(from: Double(crv.rows.lowerBound) + 8, through: Double(crv.rows.upperBound) - 8, by: 8) {
            let truth = spectrograph.edges(aperture: 0, row: y)
            let error = max(abs(crv.left.evaluate(y, 0) - truth.low), abs(crv.right.evaluate(y, 0) - truth.high))
            worstCRV = max(worstCRV, error)
            #expect(error < 0.05, "row \(y): \(error) px")
        }
        // And the IDS model puts every used line where the truth does on its centre column
        let idsFile = try FITSFile.open(try #require(try database.products(type: .inverseDispersionModel).first).path)
        defer { try? idsFile.close() }
        try idsFile.moveTo(extensionName: "WAVE_SOLUTION")
        let solution = try idsFile.readTable()
        try idsFile.moveTo(extensionName: "LINES")
        let lines = try idsFile.readTable()
        let polynomial = PolynomialSurface(degrees: try #require(solution.doubleVectors("DEG"))[0].map { Int($0) },
                                           offsets: try #require(solution.doubleVectors("OFFSET"))[0],
                                           halfRanges: try #require(solution.doubleVectors("HALFRANGE"))[0],
                                           coefficients: try #require(solution.doubleVectors("COEFFS"))[0])
        let first = Double(try #require(solution.ints("YMIN"))[0]), centre = try #require(solution.doubles("XCENTRE"))[0]
        let model = MultiSlitWavelengthSolution.Result(polynomial: polynomial, lines: [], rmsPixels: 0, identificationRMS: 0)
        let wavelengths = try #require(lines.doubles("WAVELENGTH")), rows = try #require(lines.doubles("Y")), used = try #require(lines.bools("USED"))
        var worstIDS = 0.0
        #expect(used.filter { $0 }.count >= 15)
        for i in wavelengths.indices where used[i] {
            let y = model.row(of: wavelengths[i], near: rows[i] - first) + first
            let truth = spectrograph.lineRow(aperture: 0, wavelength: wavelengths[i] / 10, column: centre.rounded()).y
            worstIDS = max(worstIDS, abs(y - truth))
            #expect(abs(y - truth) < 0.05, "\(wavelengths[i]) Å: \(y) vs \(truth)")
        }
        print("SIMLS night: OPT worst \(worstOPT) px, CRV worst \(worstCRV) px, IDS worst \(worstIDS) px")
    }
}
