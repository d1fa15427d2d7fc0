import CalibCore
import Foundation
import Recipes

/// Finds an arm's shipped nominal dispersion model at a binning, as the arc
/// recipes do (`ArcFrameLoader`): `<static>/<INSTRUMENT>_<ARM>_<BX>x<BY>_nominal_dispersion.json`
/// when that binning's own table was converted, else the unbinned file rebinned per axis.
public enum StaticNominalModel {
    public static func load(staticDirectory: String, instrument: String, arm: String, binx: Int, biny: Int) throws -> NominalDispersion {
        let base = "\(staticDirectory)/\(instrument)_\(arm)"
        let own = "\(base)_\(binx)x\(biny)_nominal_dispersion.json"
        let path = FileManager.default.fileExists(atPath: own) ? own : "\(base)_nominal_dispersion.json"
        guard FileManager.default.fileExists(atPath: path) else {
            throw PipelineError.configuration("\(path): no nominal dispersion model shipped for \(instrument) \(arm) (run calibctl convert-static)")
        }
        return try NominalDispersion.read(path: path).rebinned(x: binx, y: biny)
    }
}
