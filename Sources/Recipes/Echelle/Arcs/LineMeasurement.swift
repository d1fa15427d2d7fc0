/// Why a line measurement is not usable. `good` lines enter the solution fit.
public enum LineQuality: Int, Sendable, Codable, CaseIterable, CustomStringConvertible {
    case good = 0
    /// No peak above the detection threshold in the stamp.
    case notDetected = 1
    /// The non-linear fit did not converge or its normal equations were singular.
    case fitFailed = 2
    /// The fitted centre left the stamp's interior (the fit ran to a neighbour).
    case offStamp = 3
    /// Fitted width outside the accepted range: a cosmic ray, hot pixel or blend.
    case badWidth = 4
    /// The stamp would not lie on the detector.
    case offImage = 5
    /// The centre lies farther from the night-corrected prediction than the
    /// other lines' scatter allows: the stamp locked onto a neighbour, a
    /// blend or a cosmic ray (`ArcLineVetting`).
    case displaced = 6
    /// The fitted flux disagrees with the map's intensity scaled by the
    /// frame's flux scale: a fainter neighbour of a line missing from the
    /// lamp, or a line swamped by a spurious feature (`ArcLineVetting`).
    case fluxMismatch = 7

    public var description: String {
        switch self {
        case .good: "good"
        case .notDetected: "not detected"
        case .fitFailed: "fit failed"
        case .offStamp: "centre off stamp"
        case .badWidth: "width out of range"
        case .offImage: "off the detector"
        case .displaced: "displaced from the prediction"
        case .fluxMismatch: "flux disagrees with the map"
        }
    }
}

/// One arc-line image located on a frame. Positions in detector pixels
/// (pixel centres at integers, x = column); NaN when not measured.
public struct LineMeasurement: Sendable, Equatable {
    public var x: Double
    public var y: Double
    /// Full widths at half maximum of the fitted Gaussian, px.
    public var fwhmX: Double
    public var fwhmY: Double
    /// Total flux of the fitted Gaussian, ADU (background removed).
    public var flux: Double
    /// Peak pixel signal over its noise (background σ and Poisson noise).
    public var peakSNR: Double
    /// 1σ centre uncertainties from the fit covariance, px.
    public var xError: Double
    public var yError: Double
    public var quality: LineQuality

    public init(x: Double, y: Double, fwhmX: Double, fwhmY: Double, flux: Double, peakSNR: Double,
                xError: Double, yError: Double, quality: LineQuality) {
        self.x = x; self.y = y; self.fwhmX = fwhmX; self.fwhmY = fwhmY; self.flux = flux; self.peakSNR = peakSNR
        self.xError = xError; self.yError = yError; self.quality = quality
    }

    public static func failed(_ quality: LineQuality) -> LineMeasurement {
        LineMeasurement(x: .nan, y: .nan, fwhmX: .nan, fwhmY: .nan, flux: .nan, peakSNR: .nan, xError: .nan, yError: .nan,
                        quality: quality)
    }
}
