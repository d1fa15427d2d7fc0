import CalibCore
import Foundation

/// Which of SOXSPIPE's static calibration tables become which of calibd's
/// static files, and how: `config/static/sources/soxspipe-conversions.json`.
/// Everything instrument-specific about the conversion (file names, columns,
/// units, wavelength scales, line-screening limits, fit degrees) lives there,
/// not in code.
public struct SoxspipeConversionManifest: Sendable, Codable, Equatable {
    /// Where the source tables came from, for the provenance lines of every output.
    public struct Source: Sendable, Codable, Equatable {
        public var package: String
        public var version: String
        public var wheel: String
        public var wheelSHA256: String
        public var licence: String
        /// Directory of the vendored tables, relative to the manifest.
        public var directory: String
    }

    /// A lamp line list (SOXSPIPE's `line-atlas`).
    public struct LineList: Sendable, Codable, Equatable {
        public var file: String
        public var wavelengthColumn: String
        /// Nanometres per unit of the wavelength column (0.1 for Å).
        public var nmPerUnit: Double
        public var intensityColumn: String
        public var scale: WavelengthScale
    }

    /// One arm at one binning.
    public struct Conversion: Sendable, Codable, Equatable {
        public var instrument: String
        public var arm: String
        public var binx: Int
        public var biny: Int
        /// Single-pinhole table (`THEO_TAB_SING_*`, `SOXS_SPH_TAB_*`).
        public var single: String
        /// Multi-pinhole table (`THEO_TAB_MULT_*`, `SOXS_MPH_TAB_*`).
        public var multi: String
        /// The multi-pinhole table's slit index of the central pinhole (replaced by the single-pinhole table's lines).
        public var midSlitIndex: Int
        public var spectralFormat: String
        public var lineList: LineList
        /// Wavelength scale of the pinhole tables' wavelengths.
        public var tableScale: WavelengthScale
        /// A table line is the line list's nearest line when within this many nm (on the table's scale).
        public var matchToleranceNm: Double
        /// Unbinned PSF FWHM (px) used to judge blends.
        public var psfFWHM: Double
        /// Lines whose lamp neighbours pull the centroid by more than this many PSF σ are left out.
        public var maxBlendPull: Double
        /// Lines fainter than this (line-list amplitude units) are left out.
        public var minIntensity: Double
        /// Degrees in (n, λ, s) of the nominal dispersion model; nil: none is shipped (the recipes then fit
        /// SOXSPIPE's free polynomial), `nominalOmittedBecause` says why.
        public var nominalDegrees: [Int]?
        public var nominalOmittedBecause: String?
        /// The tables' detector x is calibd's y and vice versa (true for an arm whose tables disperse along x, like
        /// SOXS NIR's): the recipes want dispersion along y, and the profile turns the raw frames to match
        /// (`detector.orientation: transpose`), so positions are swapped here and never in a recipe. nil: false.
        public var swapAxes: Bool?
        /// The instrument's static bad-pixel map at this binning (SOXSPIPE's `BP_MAP_RP_*`, nonzero = bad; vendored
        /// gzip-compressed), converted to `<NAME>_bad_pixels.csv`; nil: none.
        public var badPixelMap: String?
        /// Clip the nominal fit's outliers at this many robust σ and leave the lines it clips out of the pinhole
        /// map (nil: no clipping). For measured tables with misidentified lines (SOXS NIR's puts a dozen 100+ px
        /// from where their order and wavelength fall); a physical model's predictions need none.
        public var nominalClipSigma: Double?

        /// `<INSTRUMENT>_<ARM>` for 1×1 (the files the recipes find without a binning), else `<INSTRUMENT>_<ARM>_<BX>x<BY>`.
        public var baseName: String {
            binx == 1 && biny == 1 ? "\(instrument)_\(arm)" : "\(instrument)_\(arm)_\(binx)x\(biny)"
        }
    }

    public var source: Source
    /// The date written into every output's provenance (YYYY-MM-DD): the
    /// outputs are a pure function of the manifest and the tables, so a re-run
    /// reproduces them byte for byte.
    public var convertedOn: String
    public var conversions: [Conversion]

    public static func read(path: String) throws -> SoxspipeConversionManifest {
        do {
            return try JSONDecoder().decode(Self.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as DecodingError {
            throw PipelineError.configuration("\(path): not a SOXSPIPE conversion manifest (\(error.localizedDescription))")
        }
    }
}
