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

    public func render() -> String {
        let left = 70.0, right = 45.0, top = 30.0, bottom = 45.0
        let plotW = width - left - right, plotH = height - top - bottom
        let all = series.flatMap(\.points).filter { $0.y.isFinite && $0.x.isFinite }
        // The axes follow the data; the acceptable band is drawn clipped to them,
        // so a wide range never flattens the points into a line.
        var xs = all.map(\.x), ys = all.map(\.y)
        if xs.isEmpty { xs = [0, 1] }
        if ys.isEmpty { ys = [0, 1] }
        var (x0, x1) = (xs.min()!, xs.max()!)
        var (y0, y1) = (ys.min()!, ys.max()!)
        if x1 == x0 { x0 -= 0.5; x1 += 0.5 }
        if y1 == y0 { y0 -= abs(y0) * 0.1 + 1; y1 += abs(y1) * 0.1 + 1 }
        let pad = (y1 - y0) * 0.08
        y0 -= pad; y1 += pad
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(f(width / 2))" y="18" text-anchor="middle" font-size="13" font-weight="bold">\(Self.escape(title))</text>

            """
        if let band {
            let hi = py(min(band.max ?? y1, y1)), lo = py(max(band.min ?? y0, y0))
            if lo > hi {
                svg += "<rect x=\"\(f(left))\" y=\"\(f(hi))\" width=\"\(f(plotW))\" height=\"\(f(lo - hi))\" fill=\"#e6f4ea\"/>\n"
            }
        }
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#444\"/>\n"
        var lastTick = ""
        for i in 0...4 {
            let yv = y0 + (y1 - y0) * Double(i) / 4
            svg += "<line x1=\"\(f(left - 4))\" x2=\"\(f(left))\" y1=\"\(f(py(yv)))\" y2=\"\(f(py(yv)))\" stroke=\"#444\"/>"
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(py(yv) + 4))\" text-anchor=\"end\">\(Self.number(yv))</text>\n"
            let xv = x0 + (x1 - x0) * Double(i) / 4
            let tick = xTickText?(xv) ?? Self.number(xv)
            guard tick != lastTick else { continue }  // e.g. two ticks within one night
            lastTick = tick
            svg += "<line x1=\"\(f(px(xv)))\" x2=\"\(f(px(xv)))\" y1=\"\(f(top + plotH))\" y2=\"\(f(top + plotH + 4))\" stroke=\"#444\"/>"
            svg += "<text x=\"\(f(px(xv)))\" y=\"\(f(top + plotH + 16))\" text-anchor=\"middle\">\(Self.escape(tick))</text>\n"
        }
        svg += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\">\(Self.escape(xLabel))</text>\n"
        svg += "<text x=\"14\" y=\"\(f(top + plotH / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 14 \(f(top + plotH / 2)))\">\(Self.escape(yLabel))</text>\n"
        for (index, s) in series.enumerated() {
            let colour = Self.palette[index % Self.palette.count]
            let points = s.points.filter { $0.y.isFinite && $0.x.isFinite }.sorted { $0.x < $1.x }
            if s.connect && points.count > 1 {
                svg += "<polyline fill=\"none\" stroke=\"\(colour)\" stroke-width=\"1.2\" points=\"" + points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ") + "\"/>\n"
            }
            for p in points {
                svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3\" fill=\"\(p.passed ? colour : "#d62728")\"><title>\(Self.escape(p.label))</title></circle>\n"
            }
            if series.count > 1 {
                svg += "<text x=\"\(f(left + 8 + Double(index) * 110))\" y=\"\(f(top + 14))\" fill=\"\(colour)\">\(Self.escape(s.name))</text>\n"
            }
        }
        return svg + "</svg>\n"
    }

    static func number(_ v: Double) -> String {
        let a = abs(v)
        if a != 0 && (a >= 1e5 || a < 1e-3) { return String(format: "%.2e", v) }
        return String(format: a >= 100 ? "%.0f" : a >= 1 ? "%.2f" : "%.3f", v)
    }

    public static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
