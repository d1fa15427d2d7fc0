import CalibCore
import Foundation
import Recipes

extension QCPlots {
    /// The fitted intra-order background of a master flat (the reference's
    /// "Fitted intra-order image background"): for three rows (a quarter, half
    /// and three quarters up the detector), the inter-order pixels of the
    /// combined flat before subtraction as points and the smoothed background
    /// as a line; a fourth panel shows the background along the central column.
    /// Nil when no background was fitted.
    static func masterFlatBackground(_ result: MasterFlat.Result) -> Data? {
        guard let background = result.background else { return nil }
        let width = background.width, height = background.height
        var plot = SVGPlot(width: 900, panelHeight: 220)
        let xr = 0...Double(width - 1)
        for (panel, y) in [3 * height / 4, height / 2, height / 4].enumerated() {
            var points: [(Double, Double)] = []
            for x in 0..<width where result.flags[y * width + x] & PixelFlag.interOrder != 0 {
                points.append((Double(x), Double(result.combined[x, y] + background[x, y])))
            }
            let curve = (0..<width).map { (Double($0), Double(background[$0, y])) }
            let peak = curve.map(\.1).max() ?? 1
            // Points beyond twice the background's peak are order wings or cosmic rays: clamp the axis, not the fit.
            let top = max(1, 2 * peak), bottom = min(0, -0.5 * peak)
            plot.addPanel(title: "Row \(y): inter-order pixels (grey) and fitted background (red)", xLabel: "x px", yLabel: "ADU",
                          x: xr, y: bottom...top)
            plot.panels[panel].points(points.filter { $0.1 >= bottom && $0.1 <= top }, colour: "#888888", radius: 0.8)
            plot.panels[panel].line(curve, colour: "red", width: 1.2)
        }
        let x = width / 2
        let column = (0..<height).map { (Double($0), Double(background[x, $0])) }
        let peak = column.map(\.1).max() ?? 1
        plot.addPanel(title: "Fitted background along column \(x)", xLabel: "y px", yLabel: "ADU",
                      x: 0...Double(height - 1), y: min(0, -0.1 * peak)...max(1, 1.2 * peak))
        plot.panels[3].line(column, colour: "red", width: 1.2)
        return plot.data
    }
}
