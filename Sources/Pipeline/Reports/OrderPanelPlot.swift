import Foundation

/// A QC figure as SVG: one small panel per order, each with its series drawn
/// against the pixel, the order number, and a red frame when the order failed
/// QC. Plain SVG 1.1, readable in any browser; no plotting dependency.
struct OrderPanelPlot {
    struct Series {
        var label: String
        var values: [Float]
        var colour: String
    }

    struct Panel {
        var title: String
        var series: [Series]
        var passed: Bool
        var note: String
        /// Fixed y range, or nil to scale to the data (finite values).
        var yRange: ClosedRange<Double>?
    }

    var title: String
    var panels: [Panel]
    /// Four 240 px panels a row: 960 px, shown unscaled in the report's 1100 px column, so 11 px stays 11 px.
    var columns = 4
    var panelWidth = 240.0
    /// Tall enough for the title, the data and two caption lines at 11 px.
    var panelHeight = 160.0
    /// Captions and titles are never smaller than this (px): 8 px text is unreadable on a night report.
    static let fontSize = 11.0
    /// Characters of 11 px sans-serif that fit across a panel (≈ 0.6 em each).
    var captionCharacters: Int { Int((panelWidth - 16) / (Self.fontSize * 0.6)) }
    /// Points drawn per series at most (every k-th value beyond that).
    var maxPoints = 400

    func svg() -> String {
        let rows = (panels.count + columns - 1) / max(columns, 1)
        let width = Double(columns) * panelWidth, height = 40 + Double(rows) * panelHeight
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="\(Int(Self.fontSize))">
            <rect width="100%" height="100%" fill="white"/>
            <text x="8" y="18" font-size="14">\(escape(title))</text>

            """
        if let first = panels.first {
            // The legend: a line sample in each series' colour beside its name, right-aligned above the panels.
            var x = width - 10
            for series in first.series.reversed() {
                x -= 30 + Double(series.label.count) * Self.fontSize * 0.6
                out += "<line x1=\"\(fmt(x))\" x2=\"\(fmt(x + 16))\" y1=\"14\" y2=\"14\" stroke=\"\(series.colour)\" stroke-width=\"2\"/>"
                out += "<text x=\"\(fmt(x + 20))\" y=\"18\">\(escape(series.label))</text>\n"
            }
        }
        for (index, panel) in panels.enumerated() {
            let ox = Double(index % columns) * panelWidth, oy = 30 + Double(index / columns) * panelHeight
            out += drawPanel(panel, ox: ox, oy: oy)
        }
        return out + "</svg>\n"
    }

    private func drawPanel(_ panel: Panel, ox: Double, oy: Double) -> String {
        let left = ox + 6, top = oy + 16, w = panelWidth - 12, h = panelHeight - 48
        var out = "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" fill=\"none\" stroke=\"\(panel.passed ? "#888" : "#d00")\" stroke-width=\"\(panel.passed ? 1 : 2)\"/>\n"
        out += "<text x=\"\(fmt(left))\" y=\"\(fmt(oy + 12))\">\(escape(panel.title))</text>\n"
        // The caption wraps onto two lines; beyond that it ends in "…" and the whole text is the tooltip.
        for (line, text) in Self.wrap(panel.note, width: captionCharacters, lines: 2).enumerated() {
            out += "<text x=\"\(fmt(left + 2))\" y=\"\(fmt(top + h + 13 + Double(line) * 14))\" fill=\"\(panel.passed ? "#444" : "#d00")\">"
                + "<title>\(escape(panel.note))</title>\(escape(text))</text>\n"
        }
        var lo = Double.infinity, hi = -Double.infinity, length = 0
        for series in panel.series {
            length = max(length, series.values.count)
            for v in series.values where v.isFinite { lo = min(lo, Double(v)); hi = max(hi, Double(v)) }
        }
        if let range = panel.yRange { lo = range.lowerBound; hi = range.upperBound }
        guard lo < hi, length > 1 else { return out }
        let step = max(1, length / maxPoints)
        for series in panel.series {
            var path = "", pen = false
            for i in stride(from: 0, to: series.values.count, by: step) {
                let v = Double(series.values[i])
                guard v.isFinite else { pen = false; continue }
                let px = left + w * Double(i) / Double(length - 1)
                let py = top + h * (1 - (min(max(v, lo), hi) - lo) / (hi - lo))
                path += "\(pen ? "L" : "M")\(fmt(px)) \(fmt(py)) "
                pen = true
            }
            if !path.isEmpty {
                out += "<path d=\"\(path)\" fill=\"none\" stroke=\"\(series.colour)\" stroke-width=\"0.8\"/>\n"
            }
        }
        return out
    }

    /// Splits text at spaces into at most `lines` lines of `width` characters, the last ending in "…" if cut.
    static func wrap(_ text: String, width: Int, lines: Int) -> [String] {
        var out: [String] = [], current = ""
        for word in text.split(separator: " ") {
            if current.isEmpty { current = String(word) } else if current.count + 1 + word.count <= width { current += " " + word } else {
                out.append(current); current = String(word)
            }
        }
        if !current.isEmpty { out.append(current) }
        guard out.count > lines || out.contains(where: { $0.count > width }) else { return out }
        var kept = Array(out.prefix(lines))
        if out.count > lines || kept.last!.count > width {
            kept[kept.count - 1] = String(kept[kept.count - 1].prefix(width - 1)) + "…"
        }
        return kept.map { $0.count > width ? String($0.prefix(width - 1)) + "…" : $0 }
    }

    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
