import Foundation

/// A small, dependency-free SVG chart: points over a category or numeric x
/// axis, an optional acceptable band, pass/fail colours. Used for the night
/// report's QC trends; recipes' own QC plots use it too.
public struct SVGChart: Sendable {
    public struct Point: Sendable {
        public var x: Double
        public var y: Double
        public var passed: Bool
        public var label: String
        public init(x: Double, y: Double, passed: Bool = true, label: String = "") {
            self.x = x; self.y = y; self.passed = passed; self.label = label
        }
    }

    public struct Series: Sendable {
        public var name: String
        public var points: [Point]
        public var connect: Bool
        public init(name: String, points: [Point], connect: Bool = true) {
            self.name = name; self.points = points; self.connect = connect
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    /// The acceptable interval of y, shaded.
    public var band: (min: Double?, max: Double?)?
    /// Text for x tick values (e.g. night names); nil prints numbers.
    public var xTickText: (@Sendable (Double) -> String)?
    public var width: Double = 640
    public var height: Double = 280

    public init(title: String, xLabel: String, yLabel: String, series: [Series], band: (min: Double?, max: Double?)? = nil,
                xTickText: (@Sendable (Double) -> String)? = nil) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series; self.band = band; self.xTickText = xTickText
    }

    static let palette = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
    /// Points that failed QC are drawn in this colour, and the legend says so.
    static let failedColour = "#d62728"
    /// Text is never smaller than this (px).
    static let fontSize = 11.0

    /// y is a count (whole numbers only): ticks are whole numbers. nil decides from the data
    /// (every finite y and the band's bounds are whole).
    public var yIsInteger: Bool?
    /// Put x ticks at the points' own x values (one per night on a trend), thinned to at most eight.
    public var xTicksAtPoints = false

    public func render() -> String {
        let all = series.flatMap(\.points).filter { $0.y.isFinite && $0.x.isFinite }
        let bandBounds = [band?.min, band?.max].compactMap { $0 }.filter(\.isFinite)
        let integer = yIsInteger ?? (!all.isEmpty && (all.map(\.y) + bandBounds).allSatisfy { $0 == $0.rounded() && abs($0) < 1e15 })
        let yAxis = AxisScale(values: all.map(\.y), including: bandBounds, integer: integer)
        var xAxis = AxisScale(values: all.map(\.x))
        let distinctX = Array(Set(all.map(\.x))).sorted()
        if xTicksAtPoints, !distinctX.isEmpty {
            // Ticks where the points are, labelled by them (a night's date under its point, not between two).
            let stride = max(1, (distinctX.count + 7) / 8)
            xAxis.ticks = distinctX.enumerated().filter { $0.offset % stride == 0 }.map(\.element)
            let pad = distinctX.count == 1 ? 1 : (distinctX.last! - distinctX.first!) * 0.05
            xAxis.lower = distinctX.first! - pad; xAxis.upper = distinctX.last! + pad
        }
        let xLabels = xTickText.map { text in xAxis.ticks.map(text) } ?? xAxis.labels

        // The legend sits in its own row between the title and the plot, never over the data.
        var legend: [(label: String, marker: String)] = []
        if series.count > 1 {
            for (index, s) in series.enumerated() { legend.append((s.name, Self.palette[index % Self.palette.count])) }
        }
        if all.contains(where: { !$0.passed }) { legend.append(("QC failed", Self.failedColour)) }
        if band != nil { legend.append(("QC range", "band")) }

        let left = 78.0, right = 24.0, top = legend.isEmpty ? 30.0 : 50.0, bottom = 48.0
        let plotW = width - left - right, plotH = height - top - bottom
        func px(_ x: Double) -> Double { xAxis.position(x, from: left, to: left + plotW) }
        func py(_ y: Double) -> Double { yAxis.position(y, from: top + plotH, to: top) }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="\(Int(Self.fontSize))">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="18" text-anchor="middle" font-size="13" font-weight="bold">\(Self.escape(title))</text>

            """
        var legendX = left
        for entry in legend {
            if entry.marker == "band" {
                svg += "<rect class=\"legend\" x=\"\(f(legendX))\" y=\"30\" width=\"14\" height=\"10\" fill=\"#e6f4ea\" stroke=\"#7cb987\"/>"
            } else {
                svg += "<circle class=\"legend\" cx=\"\(f(legendX + 6))\" cy=\"35\" r=\"4\" fill=\"\(entry.marker)\"/>"
            }
            svg += "<text x=\"\(f(legendX + 18))\" y=\"39\">\(Self.escape(entry.label))</text>\n"
            legendX += 30 + Double(entry.label.count) * Self.fontSize * 0.6
        }
        if let band {
            let hi = py(min(band.max ?? yAxis.upper, yAxis.upper)), lo = py(max(band.min ?? yAxis.lower, yAxis.lower))
            if lo > hi {
                svg += "<rect class=\"qc-range\" x=\"\(f(left))\" y=\"\(f(hi))\" width=\"\(f(plotW))\" height=\"\(f(lo - hi))\" fill=\"#e6f4ea\"><title>QC range \(Self.escape(Self.rangeText(band)))</title></rect>\n"
            }
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#444\"/>\n"
        for (value, label) in zip(yAxis.ticks, yAxis.labels) {
            svg += "<line x1=\"\(f(left - 4))\" x2=\"\(f(left))\" y1=\"\(f(py(value)))\" y2=\"\(f(py(value)))\" stroke=\"#444\"/>"
            svg += "<text class=\"tick-y\" x=\"\(f(left - 6))\" y=\"\(f(py(value) + 4))\" text-anchor=\"end\">\(label)</text>\n"
        }
        for (value, label) in zip(xAxis.ticks, xLabels) where value >= xAxis.lower && value <= xAxis.upper {
            svg += "<line x1=\"\(f(px(value)))\" x2=\"\(f(px(value)))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#444\"/>"
            svg += "<text class=\"tick-x\" x=\"\(f(px(value)))\" y=\"\(f(top + plotH + 17))\" text-anchor=\"middle\">\(Self.escape(label))</text>\n"
        }
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 8))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        svg += "<text x=\"16\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotH / 2)))\">\(Self.escape(yLabel))</text>\n"
        if yAxis.clipped {
            svg += "<text x=\"\(f(left + plotW - 4))\" y=\"\(f(top + 14))\" text-anchor=\"end\" fill=\"#666\">outliers pinned to the edge</text>\n"
        }
        for (index, s) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            let points = s.points.filter { $0.y.isFinite && $0.x.isFinite }.sorted { $0.x < $1.x }
            if s.connect && points.count > 1 {
                svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.2\" points=\"" + points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ") + "\"/>\n"
            }
            for p in points {
                svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(p.passed ? colour : Self.failedColour)\"><title>\(Self.escape(p.label))</title></circle>\n"
            }
        }
        return svg + "</svg>\n"
    }

    static func rangeText(_ band: (min: Double?, max: Double?)) -> String {
        "[\(band.min.map { String(format: "%g", $0) } ?? "−∞"), \(band.max.map { String(format: "%g", $0) } ?? "+∞")]"
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
