import CalibCore
import FITS
import Foundation
import Recipes

/// The `lamp_flux` recipe on files: one arc-lamp frame → LAMP_FLUX, a table
/// of the identified bright lines' fluxes in ADU/s and e⁻/s.
struct LampFluxExecutor: RecipeExecutor {
    var name: String { LampLineFlux.name }
    var version: String { LampLineFlux.version }

    func execute(_ context: JobContext) throws -> [ProductOutput] {
        let recipe = try LampLineFlux(parameters: context.parameters)
        let arc = try ArcFrameLoader(context)
        guard arc.exposureTime > 0 else { throw PipelineError.inputMismatch("arc frame has no positive exposure time") }
        guard let mapPath = context.calibrations[.dispersionMap]?.path else {
            throw PipelineError.inputMismatch("no DISP_MAP was chosen to identify the lines")
        }
        let solution = try DispersionMapFile.read(path: mapPath)
        let result = recipe.run(arc.image, map: arc.map, solution: solution, exposureTime: arc.exposureTime, gain: arc.gain,
                                saturated: arc.saturated)
        let l = result.lines
        let table = FITSTable(columns: [
            .double(name: "WAVELENGTH", values: l.map(\.wavelength), unit: "nm"),
            .int64(name: "ORDER", values: l.map { Int64($0.order) }),
            .double(name: "X", values: l.map(\.x), unit: "px"),
            .double(name: "Y", values: l.map(\.y), unit: "px"),
            .double(name: "FLUX_ADU", values: l.map(\.fluxADU), unit: "ADU"),
            .double(name: "FLUX_ADU_S", values: l.map(\.fluxADUPerSecond), unit: "ADU/s"),
            .double(name: "FLUX_E_S", values: l.map(\.fluxElectronsPerSecond), unit: "e-/s"),
            .double(name: "PEAK_SNR", values: l.map(\.peakSNR)),
            .double(name: "FWHM", values: l.map(\.fwhm), unit: "px"),
            .int64(name: "SATURATED_PIXELS", values: l.map { Int64($0.saturatedPixels) }),
            .string(name: "FLAG", values: l.map { $0.flag.isEmpty ? "ok" : $0.flag }),
        ])
        var header = FITSHeader()
        header.set("EXPTIME", .real(arc.exposureTime), comment: "[s] exposure time divided out")
        header.set("FIBRES", .real(recipe.fibres), comment: "fibres divided out")
        if let lamp = context.inputs.first?.frame.lamp { header.set("LAMP", .string(lamp), comment: "arc lamp") }
        return [ProductOutput(type: .lampFlux, hdus: [.table(table, name: "LINE_FLUXES", header: header)],
                              metrics: result.metrics, mjd: ArcFrameLoader.meanMJD(context))]
    }
}
