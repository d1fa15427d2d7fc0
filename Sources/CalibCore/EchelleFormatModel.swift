/// Where an echelle arm's optics put light of physical order n, wavelength λ
/// (nm) and slit position s (arcsec): detector pixel centres (x across the
/// orders, y along the dispersion) of the trimmed, oriented frame at one
/// binning. The nominal dispersion model (Recipes) is one; the simulator
/// takes it through this protocol so it needs no fitting code.
public protocol EchelleFormatModel: Sendable {
    func position(order: Int, wavelength: Double, slit: Double) -> (x: Double, y: Double)
}
