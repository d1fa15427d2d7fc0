import CalibCore
import FITS
import Foundation
import Recipes

/// Turns SOXSPIPE's static calibrations — ESO's X-shooter physical-model
/// pinhole tables (`THEO_TAB_SING/MULT_*`), the SOXS pinhole maps
/// (`SOXS_SPH/MPH_TAB_*`), spectral-format tables and lamp line lists — into
/// calibd's static files, as `SoxspipeConversionManifest` says:
///
/// - `<NAME>_pinhole_map.csv` (`PinholeMap`): the single-pinhole table's lines
///   (the central pinhole) and the multi-pinhole table's other pinholes, each
///   found in the lamp line list on the table's wavelength scale, with that
///   list's intensity, blends screened (`PinholeLineScreen`).
/// - `<NAME>_nominal_dispersion.json` (`NominalDispersion`): X, Y = Σ cᵢⱼₖ nⁱ λʲ sᵏ
///   fitted to every multi-pinhole table position (the physical model's own
///   predictions, lines and blends alike), its worst residual recorded.
///
/// Coordinates: the tables are 1-based FITS pixels of the trimmed, oriented
/// frame SOXSPIPE reduces; calibd's pixel centres are 0-based, so 1 is
/// subtracted. Each binning's own table is used (positions in binned pixels);
/// the files' `binning` is the x binning and `binningY` metadata the y binning.
/// Outputs are a pure function of the manifest and the tables (the
/// conversion date is the manifest's), so a re-run reproduces them exactly.
public struct SoxspipeStaticConverter {
    /// One output file and how its lines fared.
    public struct Output: Sendable {
        public var fileName: String
        public var text: String
    }

    /// Figures of one arm/binning, for the log and the tests.
    public struct Summary: Sendable {
        public var name: String
        /// Distinct single-pinhole wavelengths found in the list within the tolerance, list converted to the table's scale.
        public var matchedOnTableScale: Int
        /// The same with the list's wavelengths taken as they are (no air/vacuum conversion).
        public var matchedAsGiven: Int
        public var singleWavelengths: Int
        /// Pinhole-map rows written (central + other pinholes) and the table rows they came from.
        public var mapEntries: Int
        public var tableRows: Int
        public var worstFitX: Double
        public var worstFitY: Double
    }

    public let manifest: SoxspipeConversionManifest
    /// Directory of the vendored tables.
    public let sourceDirectory: String

    public init(manifestPath: String) throws {
        manifest = try SoxspipeConversionManifest.read(path: manifestPath)
        sourceDirectory = ((manifestPath as NSString).deletingLastPathComponent as NSString)
            .appendingPathComponent(manifest.source.directory)
    }

    /// Every output of the manifest.
    public func convert() throws -> (outputs: [Output], summaries: [Summary]) {
        var outputs: [Output] = []
        var summaries: [Summary] = []
        for conversion in manifest.conversions {
            let result = try convert(conversion)
            outputs += result.outputs
            summaries.append(result.summary)
        }
        return (outputs, summaries)
    }

    private struct PinholeRow {
        var wavelength: Double, order: Int, slitIndex: Int, slit: Double, x: Double, y: Double
    }

    private func path(_ file: String) -> String { (sourceDirectory as NSString).appendingPathComponent(file) }

    private func readTable(_ file: String) throws -> FITSTable {
        let fits = try FITSFile.open(path(file))
        defer { try? fits.close() }
        _ = try fits.moveTo(hdu: 2)
        return try fits.readTable()
    }

    private func numbers(_ table: FITSTable, _ column: String, in file: String) throws -> [Double] {
        if let values = table.doubles(column) { return values }
        if let values = table.ints(column) { return values.map(Double.init) }
        throw PipelineError.configuration("\(file): no numeric column '\(column)'")
    }

    /// Pinhole rows (1-based positions made 0-based, x and y exchanged when `swapAxes`); rows marked `delete` in
    /// SOXS tables are left out.
    private func pinholeRows(_ file: String, swapAxes: Bool = false) throws -> [PinholeRow] {
        let table = try readTable(file)
        let w = try numbers(table, "wavelength", in: file), n = try numbers(table, "order", in: file)
        let index = try numbers(table, "slit_index", in: file), s = try numbers(table, "slit_position", in: file)
        let x = try numbers(table, "detector_x", in: file), y = try numbers(table, "detector_y", in: file)
        let deleted = (try? numbers(table, "delete", in: file)) ?? []
        return w.indices.compactMap { i in
            if deleted.indices.contains(i), deleted[i] != 0 { return nil }
            let (px, py) = swapAxes ? (y[i] - 1, x[i] - 1) : (x[i] - 1, y[i] - 1)
            return PinholeRow(wavelength: w[i], order: Int(n[i]), slitIndex: Int(index[i]), slit: s[i], x: px, y: py)
        }
    }

    /// nm per binned pixel along the order at each row: from the nearest other line of the same order and pinhole.
    private func dispersions(_ rows: [PinholeRow]) -> [Double] {
        var perRow = [Double](repeating: .nan, count: rows.count)
        let groups = Dictionary(grouping: rows.indices) { "\(rows[$0].order)/\(rows[$0].slitIndex)" }
        for members in groups.values where members.count > 1 {
            for i in members {
                let j = members.filter { $0 != i && rows[$0].wavelength != rows[i].wavelength }
                    .min { abs(rows[$0].wavelength - rows[i].wavelength) < abs(rows[$1].wavelength - rows[i].wavelength) }
                guard let j else { continue }
                let pixels = hypot(rows[j].x - rows[i].x, rows[j].y - rows[i].y)
                if pixels > 0 { perRow[i] = abs(rows[j].wavelength - rows[i].wavelength) / pixels }
            }
        }
        let known = perRow.filter(\.isFinite).sorted()
        let median = known.isEmpty ? Double.nan : known[known.count / 2]
        return perRow.map { $0.isFinite ? $0 : median }
    }

    /// The spectral-format table's full wavelength range per order (nm) and, where it has a LAMP column, each order's flat lamp.
    private func spectralFormat(_ c: SoxspipeConversionManifest.Conversion, table: FITSTable, orders: [Int]) throws -> SpectralFormat {
        let low = try numbers(table, "WLMINFUL", in: c.spectralFormat), high = try numbers(table, "WLMAXFUL", in: c.spectralFormat)
        let lamps = table.strings("LAMP")?.map { $0.trimmingCharacters(in: .whitespaces) } ?? Array(repeating: "", count: orders.count)
        let rows = orders.indices.map { SpectralFormat.Order(order: orders[$0], lamp: lamps[$0], minimumWavelength: low[$0], maximumWavelength: high[$0]) }
            .sorted { $0.order < $1.order }
        let checksum = try ContentChecksum.sha256(ofFile: path(c.spectralFormat))
        return SpectralFormat(orders: rows, metadata: [
            "instrument": c.instrument, "arm": c.arm,
            "source": "\(manifest.source.package) \(manifest.source.version) (\(manifest.source.wheel) sha256:\(manifest.source.wheelSHA256)), "
                + "\(manifest.source.licence); see sources/\(manifest.source.directory)/NOTICE.md",
            "sourceTables": "\(c.spectralFormat) sha256:\(checksum)",
            "convertedOn": manifest.convertedOn,
            "converter": "calibctl convert-static (SoxspipeStaticConverter)",
            "columns": "order; LAMP (empty: the table names none); WLMINFUL, WLMAXFUL in nm on the pinhole tables' \(c.tableScale.rawValue) scale",
        ])
    }

    /// The nonzero pixels of a bad-pixel map image (the first image HDU), 0-based, x and y exchanged with `swapAxes`.
    private func badPixels(_ c: SoxspipeConversionManifest.Conversion, file: String) throws -> StaticBadPixels {
        let fits = try FITSFile.open(path(file))
        defer { try? fits.close() }
        try fits.moveTo(hdu: try fits.firstImageHDU())
        let shape = try fits.imageShape()
        guard shape.count == 2 else { throw PipelineError.configuration("\(file): expected a 2-D image, got shape \(shape)") }
        let values = try fits.readImage(as: Float.self)
        let (width, height) = (shape[0], shape[1])
        var pixels: [StaticBadPixels.Pixel] = []
        for y in 0..<height {
            for x in 0..<width where values[y * width + x] != 0 {
                pixels.append(c.swapAxes == true ? .init(x: y, y: x) : .init(x: x, y: y))
            }
        }
        pixels.sort { ($0.y, $0.x) < ($1.y, $1.x) }
        let (w, h) = c.swapAxes == true ? (height, width) : (width, height)
        return StaticBadPixels(pixels: pixels, metadata: [
            "instrument": c.instrument, "arm": c.arm, "binning": "\(c.binx)x\(c.biny)",
            "size": "\(w)x\(h)",
            "coordinates": "0-based pixel centres of the trimmed, oriented frame (the map's nonzero pixels)",
            "source": "\(manifest.source.package) \(manifest.source.version) (\(manifest.source.wheel) sha256:\(manifest.source.wheelSHA256)), "
                + "\(manifest.source.licence); see sources/\(manifest.source.directory)/NOTICE.md",
            "sourceTables": "\(file) sha256:\(try ContentChecksum.sha256(ofFile: path(file)))",
            "convertedOn": manifest.convertedOn,
            "converter": "calibctl convert-static (SoxspipeStaticConverter)",
        ])
    }

    private func convert(_ c: SoxspipeConversionManifest.Conversion) throws -> (outputs: [Output], summary: Summary) {
        let listTable = try readTable(c.lineList.file)
        let listWavelengths = try numbers(listTable, c.lineList.wavelengthColumn, in: c.lineList.file).map { $0 * c.lineList.nmPerUnit }
        let listIntensities = try numbers(listTable, c.lineList.intensityColumn, in: c.lineList.file)
        let screen = PinholeLineScreen(wavelengthsNm: listWavelengths, intensities: listIntensities, listScale: c.lineList.scale,
                                       tableScale: c.tableScale, matchToleranceNm: c.matchToleranceNm)
        let naive = PinholeLineScreen(wavelengthsNm: listWavelengths, intensities: listIntensities, listScale: .vacuum,
                                      tableScale: .vacuum, matchToleranceNm: c.matchToleranceNm)

        let swap = c.swapAxes ?? false
        let single = try pinholeRows(c.single, swapAxes: swap)
        let multi = try pinholeRows(c.multi, swapAxes: swap)
        let others = multi.filter { $0.slitIndex != c.midSlitIndex }
        let candidates = single + others
        let dispersion = dispersions(single) + dispersions(multi).enumerated()
            .filter { multi[$0.offset].slitIndex != c.midSlitIndex }.map(\.element)
        // The PSF's width in nm is the optics', whatever the binning: σ = FWHM/2.3548 unbinned px × nm per unbinned px
        // (dispersion runs along y, so a binned pixel spans biny unbinned ones).
        let sigmaPerDispersion = c.psfFWHM / (2 * (2 * log(2)).squareRoot()) / Double(c.biny)

        var entries: [PinholeMap.Entry] = []
        var unmatched = 0, faint = 0, blended = 0
        for (row, nmPerPixel) in zip(candidates, dispersion) {
            let judgement = screen.judge(row.wavelength, sigmaNm: sigmaPerDispersion * nmPerPixel)
            guard let intensity = judgement.intensity else { unmatched += 1; continue }
            if intensity < c.minIntensity { faint += 1; continue }
            if !(judgement.pull <= c.maxBlendPull) { blended += 1; continue }
            entries.append(PinholeMap.Entry(wavelength: row.wavelength, order: row.order, slit: row.slit, x: row.x, y: row.y,
                                            intensity: intensity))
        }
        let singleWavelengths = Set(single.map(\.wavelength))
        let matched = singleWavelengths.filter { screen.match($0) != nil }.count
        let matchedAsGiven = singleWavelengths.filter { naive.match($0) != nil }.count

        let format = try readTable(c.spectralFormat)
        let orders = try numbers(format, "order", in: c.spectralFormat).map { Int($0) }
        let checksums = try [c.single, c.multi, c.lineList.file, c.spectralFormat].map { file in
            "\(file) sha256:\(try ContentChecksum.sha256(ofFile: path(file)))"
        }
        let metadata: [String: String] = [
            "instrument": c.instrument, "arm": c.arm, "binningY": "\(c.biny)",
            "source": "\(manifest.source.package) \(manifest.source.version) (\(manifest.source.wheel) sha256:\(manifest.source.wheelSHA256)), "
                + "\(manifest.source.licence); see sources/\(manifest.source.directory)/NOTICE.md",
            "sourceTables": checksums.joined(separator: "; "),
            "convertedOn": manifest.convertedOn,
            "converter": "calibctl convert-static (SoxspipeStaticConverter)",
            "coordinates": swap
                ? "0-based pixel centres of the trimmed frame turned to disperse along y (x = the tables' 1-based detector_y minus 1, "
                    + "y = detector_x minus 1), binned \(c.binx)x\(c.biny)"
                : "0-based pixel centres of the trimmed, oriented frame (the tables' 1-based detector_x/y minus 1), binned \(c.binx)x\(c.biny)",
            "orders": "\(orders.min() ?? 0)-\(orders.max() ?? 0)",
        ]
        var worst = (x: Double.nan, y: Double.nan)
        var nominal: NominalDispersion?
        // Lines the clipped nominal fit rejects (any pinhole of them) are misidentified in the table: not mapped.
        var offModel = Set<String>()
        if let degrees = c.nominalDegrees {
            var nominalMetadata = metadata
            nominalMetadata["model"] = "fitted to the \(multi.count) positions of \(c.multi)"
            let points = multi.map { [Double($0.order), $0.wavelength, $0.slit] }
            var fit: (model: NominalDispersion, worstX: Double, worstY: Double, rejected: [Bool])
            do {
                fit = try NominalDispersion.fit(points: points, x: multi.map(\.x), y: multi.map(\.y), degrees: degrees,
                                                metadata: nominalMetadata, binning: c.binx, clipSigma: c.nominalClipSigma)
            } catch {
                throw PipelineError.configuration("\(c.baseName): the nominal model of degrees \(degrees) cannot be fitted "
                                                  + "to the \(multi.count) positions of \(c.multi): \(error)")
            }
            fit.model.metadata["fitWorstResidual"] = String(format: "x %.4f px, y %.4f px", fit.worstX, fit.worstY)
            if let sigma = c.nominalClipSigma {
                for (row, rejected) in zip(multi, fit.rejected) where rejected { offModel.insert("\(row.order)/\(row.wavelength)") }
                fit.model.metadata["fitClipped"] = "\(fit.rejected.count { $0 }) of \(multi.count) positions beyond \(sigma) robust sigma "
                    + "(\(offModel.count) lines, left out of the pinhole map)"
            }
            worst = (fit.worstX, fit.worstY)
            nominal = fit.model
        }
        let mappedBefore = entries.count
        entries.removeAll { offModel.contains("\($0.order)/\($0.wavelength)") }

        var mapMetadata = metadata
        mapMetadata["lineList"] = "\(c.lineList.file) (\(c.lineList.scale.rawValue)), compared on the tables' \(c.tableScale.rawValue) scale"
        mapMetadata["lineMatch"] = "\(matched) of \(singleWavelengths.count) single-pinhole wavelengths within \(c.matchToleranceNm) nm "
            + "on the \(c.tableScale.rawValue) scale, \(matchedAsGiven) with the list's wavelengths as given"
        mapMetadata["selection"] = "intensity >= \(c.minIntensity), blend pull <= \(c.maxBlendPull) PSF sigma (FWHM \(c.psfFWHM) unbinned px); "
            + "left out: \(unmatched) not in the list, \(faint) faint, \(blended) blended, of \(candidates.count)"
            + (c.nominalClipSigma == nil ? "" : "; then \(mappedBefore - entries.count) off the clipped nominal model (misidentified in the table)")
        mapMetadata["pinholes"] = "central from \(c.single), others from \(c.multi) (slit_index != \(c.midSlitIndex))"
        if c.nominalDegrees == nil { mapMetadata["nominalModel"] = "none shipped: \(c.nominalOmittedBecause ?? "not requested")" }
        let map = PinholeMap(entries: entries, binning: c.binx, metadata: mapMetadata)

        var outputs = [Output(fileName: c.baseName + "_pinhole_map.csv", text: map.csv())]
        // The format is the arm's, whatever the binning: written once, beside the 1×1 files.
        if c.binx == 1 && c.biny == 1 || !manifest.conversions.contains(where: { $0.instrument == c.instrument && $0.arm == c.arm && $0.binx == 1 && $0.biny == 1 }) {
            outputs.append(Output(fileName: "\(c.instrument)_\(c.arm)_spectral_format.csv",
                                  text: try spectralFormat(c, table: format, orders: orders).csv()))
        }
        if let file = c.badPixelMap { outputs.append(Output(fileName: c.baseName + "_bad_pixels.csv", text: try badPixels(c, file: file).csv())) }
        if let nominal { outputs.append(Output(fileName: c.baseName + "_nominal_dispersion.json", text: try nominal.json())) }
        let summary = Summary(name: c.baseName, matchedOnTableScale: matched, matchedAsGiven: matchedAsGiven,
                              singleWavelengths: singleWavelengths.count, mapEntries: entries.count, tableRows: candidates.count,
                              worstFitX: worst.x, worstFitY: worst.y)
        return (outputs, summary)
    }
}
