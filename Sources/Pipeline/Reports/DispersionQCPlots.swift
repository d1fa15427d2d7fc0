import Foundation
import Recipes

/// SVG QC plots of a dispersion solution (SOXSPIPE shows the same three):
/// the fit residuals against wavelength and against order, and the lines
/// over the frame — used lines, lines rejected by the frame-wide vetting or
/// the fit (clipped), and lines not found, each at its predicted position.
/// Written beside DISP_MAP and DISP_IMAGE products (`ProductAttachment`);
/// the night report links every `<product stem>*.svg`.
struct DispersionQCPlots {
    var lines: [DispersionMapFit.Line]

    /// Residuals X and Y (px) of the used lines against wavelength (nm).
    func residualsAgainstWavelength() -> String {
        residuals(x: { $0.entry.wavelength }, xLabel: "wavelength (nm)", title: "Dispersion solution residuals against wavelength")
    }

    /// Residuals X and Y (px) of the used lines against echelle order.
    func residualsAgainstOrder() -> String {
        residuals(x: { Double($0.entry.order) }, xLabel: "order", title: "Dispersion solution residuals against order")
    }

    func residuals(x: (DispersionMapFit.Line) -> Double, xLabel: String, title: String) -> String {
        let used = lines.filter(\.used)
        return SVGChart(title: title, xLabel: xLabel, yLabel: "observed − fitted (px)", series: [
            .init(name: "X", points: used.map { .init(x: x($0), y: $0.residualX) }, connect: false),
            .init(name: "Y", points: used.map { .init(x: x($0), y: $0.residualY) }, connect: false),
        ]).render()
    }

    /// Lines over the frame: x (columns) against y (rows), by outcome.
    func linesOverFrame() -> String {
        func points(_ keep: (DispersionMapFit.Line) -> Bool) -> [SVGChart.Point] {
            lines.filter(keep).map { l in
                let found = l.measurement.x.isFinite && l.measurement.y.isFinite
                // The series is the category and its colour the marker's: `passed: false` would paint
                // every clipped or rejected line in the failure red the legend does not name.
                return .init(x: found ? l.measurement.x : l.predictedX, y: found ? l.measurement.y : l.predictedY,
                             passed: true, label: "\(l.entry.order) \(l.entry.wavelength) nm: \(l.clipped ? "clipped" : "\(l.measurement.quality)")")
            }
        }
        var chart = SVGChart(title: "Arc lines over the frame", xLabel: "x (px)", yLabel: "y (px)", series: [
            .init(name: "used", points: points(\.used), connect: false),
            .init(name: "clipped by the fit", points: points { $0.clipped }, connect: false),
            .init(name: "rejected or not found", points: points { $0.measurement.quality != .good }, connect: false),
        ])
        chart.width = 560; chart.height = 560
        return chart.render()
    }

    /// The three plots as product attachments.
    var attachments: [ProductAttachment] {
        [ProductAttachment(suffix: "_residuals_wavelength.svg", contents: Data(residualsAgainstWavelength().utf8)),
         ProductAttachment(suffix: "_residuals_order.svg", contents: Data(residualsAgainstOrder().utf8)),
         ProductAttachment(suffix: "_lines.svg", contents: Data(linesOverFrame().utf8))]
    }
}
