import Foundation
import Recipes

/// A minimal SVG plot writer for QC figures: panels with axes, points,
/// polylines and filled polygons, in data coordinates. No dependencies.
public struct SVGPlot {
    public struct Panel {
        public var title: String
        public var xLabel: String
        public var yLabel: String
        public var xRange: ClosedRange<Double>
        public var yRange: ClosedRange<Double>
        var body: [String] = []
        /// The panel's place in its figure, so that its tick labels can be told from another panel's.
        var index = 0
        let x0: Double, y0: Double, w: Double, h: Double

        init(title: String, xLabel: String, yLabel: String, xRange: ClosedRange<Double>, yRange: ClosedRange<Double>,
             frame: (Double, Double, Double, Double)) {
            self.title = title; self.xLabel = xLabel; self.yLabel = yLabel
            self.xRange = Self.usable(xRange)
            self.yRange = Self.usable(yRange)
            (x0, y0, w, h) = frame
        }

        /// A range a plot can use: finite (else 0…1) and not empty (widened about its value).
        static func usable(_ range: ClosedRange<Double>) -> ClosedRange<Double> {
            guard range.lowerBound.isFinite, range.upperBound.isFinite else { return 0...1 }
            guard range.lowerBound < range.upperBound else {
                let half = max(abs(range.lowerBound) * 0.05, 0.5)
                return (range.lowerBound - half)...(range.upperBound + half)
            }
            return range
        }

        func px(_ x: Double) -> Double { x0 + (x - xRange.lowerBound) / (xRange.upperBound - xRange.lowerBound) * w }
        func py(_ y: Double) -> Double { y0 + h - (y - yRange.lowerBound) / (yRange.upperBound - yRange.lowerBound) * h }

        public mutating func points(_ pts: [(Double, Double)], colour: String, radius: Double = 1.2) {
            for (x, y) in pts where x.isFinite && y.isFinite {
                body.append(String(format: "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"%@\"/>", px(x), py(y), radius, colour))
            }
        }

        public mutating func line(_ pts: [(Double, Double)], colour: String, width: Double = 1) {
            let d = pts.filter { $0.0.isFinite && $0.1.isFinite }.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }
            guard d.count > 1 else { return }
            body.append("<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"\(width)\" points=\"\(d.joined(separator: " "))\"/>")
        }

        public mutating func polygon(_ pts: [(Double, Double)], fill: String, opacity: Double = 0.6) {
            let d = pts.filter { $0.0.isFinite && $0.1.isFinite }.map { String(format: "%.1f,%.1f", px($0.0), py($0.1)) }
            guard d.count > 2 else { return }
            body.append("<polygon fill=\"\(fill)\" fill-opacity=\"\(opacity)\" stroke=\"none\" points=\"\(d.joined(separator: " "))\"/>")
        }

        public mutating func text(_ s: String, x: Double, y: Double, size: Int = 11) {
            body.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"%d\" text-anchor=\"middle\">%@</text>", px(x), py(y), size, SVGPlot.escape(s)))
        }

        func render() -> String {
            var out = [String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"white\" stroke=\"black\"/>", x0, y0, w, h)]
            out.append("<svg x=\"\(x0)\" y=\"\(y0)\" width=\"\(w)\" height=\"\(h)\" viewBox=\"\(x0) \(y0) \(w) \(h)\">")
            out += body
            out.append("</svg>")
            // Nice-number ticks inside the panel's own range (which callers set to the detector or the data).
            let xTicks = AxisScale(values: [xRange.lowerBound, xRange.upperBound]), yTicks = AxisScale(values: [yRange.lowerBound, yRange.upperBound])
            for (fx, label) in zip(xTicks.ticks, xTicks.labels) where xRange.contains(fx) {
                out.append(String(format: "<text class=\"tick-x panel-%d\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%@</text>", index, px(fx), y0 + h + 14, label))
            }
            for (fy, label) in zip(yTicks.ticks, yTicks.labels) where yRange.contains(fy) {
                out.append(String(format: "<text class=\"tick-y panel-%d\" x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"end\">%@</text>", index, x0 - 3, py(fy) + 4, label))
            }
            out.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" text-anchor=\"middle\">%@</text>", x0 + w / 2, y0 - 6, SVGPlot.escape(title)))
            out.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\">%@</text>", x0 + w / 2, y0 + h + 30, SVGPlot.escape(xLabel)))
            out.append(String(format: "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\" text-anchor=\"middle\" transform=\"rotate(-90 %.1f %.1f)\">%@</text>",
                              x0 - 44, y0 + h / 2, x0 - 44, y0 + h / 2, SVGPlot.escape(yLabel)))
            return out.joined(separator: "\n")
        }
    }

    public var width: Double
    public var panels: [Panel] = []
    let panelHeight: Double

    public init(width: Double = 900, panelHeight: Double = 420) { self.width = width; self.panelHeight = panelHeight }

    /// Adds a panel below the previous ones and returns its index.
    @discardableResult
    public mutating func addPanel(title: String, xLabel: String, yLabel: String, x: ClosedRange<Double>, y: ClosedRange<Double>) -> Int {
        let top = 30 + Double(panels.count) * (panelHeight + 60)
        var panel = Panel(title: title, xLabel: xLabel, yLabel: yLabel, xRange: x, yRange: y, frame: (70, top, width - 90, panelHeight))
        panel.index = panels.count
        panels.append(panel)
        return panels.count - 1
    }

    public func svg() -> String {
        let height = 30 + Double(panels.count) * (panelHeight + 60)
        return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" font-family=\"sans-serif\">\n"
            + "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n" + panels.map { $0.render() }.joined(separator: "\n") + "\n</svg>\n"
    }

    public var data: Data { Data(svg().utf8) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    /// A distinct colour per index (golden-angle hues).
    public static func colour(_ i: Int) -> String {
        let hue = (Double(i) * 137.508).truncatingRemainder(dividingBy: 360)
        return String(format: "hsl(%.0f,70%%,50%%)", hue)
    }
}

/// The QC figures of the order trace and the master flat.
enum QCPlots {
    /// Detections and fitted centres over the detector, and the residuals.
    static func orderCentres(_ result: OrderTrace.Result, width: Int, height: Int) -> Data {
        var plot = SVGPlot()
        let g = result.geometry
        var p = plot.panels.count
        plot.addPanel(title: "Order centres: detections (dots) and global fit (lines)", xLabel: "x (cross-dispersion) px",
                      yLabel: "y (dispersion) px", x: 0...Double(width - 1), y: 0...Double(height - 1))
        for (k, order) in g.orders.enumerated() {
            plot.panels[p].points(result.detections.filter { $0.order == order }.map { ($0.x, $0.y) }, colour: SVGPlot.colour(k))
            let r = g.rowRanges[order] ?? 0...(height - 1)
            plot.panels[p].line(stride(from: r.lowerBound, through: r.upperBound, by: max(1, height / 128)).map { (g.centre(order: order, y: Double($0)), Double($0)) },
                                colour: "black", width: 0.6)
            plot.panels[p].text("\(order)", x: g.centre(order: order, y: Double(height / 2)), y: Double(height) * 0.52)
        }
        let kept = result.residuals.indices.filter { !result.clipped[$0] }
        let span = max(0.05, kept.map { abs(result.residuals[$0]) }.max() ?? 0.05)
        plot.addPanel(title: "Residuals (measured − fitted); clipped in grey", xLabel: "y px", yLabel: "Δx px",
                      x: 0...Double(height - 1), y: -span...span)
        p = plot.panels.count - 1
        plot.panels[p].points(kept.map { (result.detections[$0].y, result.residuals[$0]) }, colour: "steelblue")
        plot.panels[p].points(result.residuals.indices.filter { result.clipped[$0] }.map { (result.detections[$0].y, max(-span, min(span, result.residuals[$0]))) },
                              colour: "grey")
        return plot.data
    }

    /// Edge detections with the fitted edges, the orders filled, and the edge residuals;
    /// `stitch` (x, y points) draws where a two-lamp master was joined.
    static func masterFlat(_ result: MasterFlat.Result, width: Int, height: Int, stitch: [(Double, Double)] = []) -> Data {
        var plot = SVGPlot(width: 900, panelHeight: 380)
        let g = result.geometry
        let xr = 0...Double(width - 1), yr = 0...Double(height - 1)
        plot.addPanel(title: "Order edges: detections (lower blue, upper red) and global fits", xLabel: "x px", yLabel: "y px", x: xr, y: yr)
        plot.panels[0].points(result.edges.compactMap { e in e.lower.map { ($0, e.y) } }, colour: "blue", radius: 0.9)
        plot.panels[0].points(result.edges.compactMap { e in e.upper.map { ($0, e.y) } }, colour: "red", radius: 0.9)
        plot.addPanel(title: "Orders between the fitted edges", xLabel: "x px", yLabel: "y px", x: xr, y: yr)
        let rows = stride(from: 0, through: height - 1, by: max(1, height / 128)).map { $0 }
        for (k, order) in g.orders.enumerated() {
            let r = g.rowRanges[order] ?? 0...(height - 1)
            let ys = rows.filter { r.contains($0) }.map(Double.init)
            let lower = ys.map { (g.edges(order: order, y: $0)!.lower, $0) }
            let upper = ys.map { (g.edges(order: order, y: $0)!.upper, $0) }
            plot.panels[0].line(lower, colour: "black", width: 0.6)
            plot.panels[0].line(upper, colour: "black", width: 0.6)
            plot.panels[1].polygon(lower + upper.reversed(), fill: SVGPlot.colour(k))
            plot.panels[1].text("\(order)", x: g.centre(order: order, y: Double(height / 2)), y: Double(height) * 0.52)
        }
        if !stitch.isEmpty { plot.panels[1].line(stitch, colour: "black", width: 1.5) }
        let all = result.lowerResiduals + result.upperResiduals
        let span = max(0.05, all.map { abs($0.residual) }.max() ?? 0.05)
        plot.addPanel(title: "Edge residuals (measured − fitted): lower blue, upper red", xLabel: "y px", yLabel: "Δx px", x: yr, y: -span...span)
        plot.panels[2].points(result.lowerResiduals.map { ($0.y, $0.residual) }, colour: "blue", radius: 0.9)
        plot.panels[2].points(result.upperResiduals.map { ($0.y, $0.residual) }, colour: "red", radius: 0.9)
        return plot.data
    }
}
