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
    var columns = 5
    var panelWidth = 240.0
    var panelHeight = 130.0
    /// Points drawn per series at most (every k-th value beyond that).
    var maxPoints = 400

    func svg() -> String {
        let rows = (panels.count + columns - 1) / max(columns, 1)
        let width = Double(columns) * panelWidth, height = 40 + Double(rows) * panelHeight
        var out = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" font-family="sans-serif" font-size="10">
            <rect width="100%" height="100%" fill="white"/>
            <text x="8" y="18" font-size="14">\(escape(title))</text>

            """
        if let first = panels.first {
            var x = width - 10
            for series in first.series.reversed() {
                x -= 8 + Double(series.label.count) * 6
                out += "<text x=\"\(fmt(x))\" y=\"18\" fill=\"\(series.colour)\">\(escape(series.label))</text>\n"
            }
        }
        for (index, panel) in panels.enumerated() {
            let ox = Double(index % columns) * panelWidth, oy = 30 + Double(index / columns) * panelHeight
            out += drawPanel(panel, ox: ox, oy: oy)
        }
        return out + "</svg>\n"
    }

    private func drawPanel(_ panel: Panel, ox: Double, oy: Double) -> String {
        let left = ox + 6, top = oy + 16, w = panelWidth - 12, h = panelHeight - 30
        var out = "<rect x=\"\(fmt(left))\" y=\"\(fmt(top))\" width=\"\(fmt(w))\" height=\"\(fmt(h))\" fill=\"none\" stroke=\"\(panel.passed ? "#888" : "#d00")\" stroke-width=\"\(panel.passed ? 1 : 2)\"/>\n"
        out += "<text x=\"\(fmt(left))\" y=\"\(fmt(oy + 12))\">\(escape(panel.title))</text>\n"
        if !panel.note.isEmpty {
            out += "<text x=\"\(fmt(left + 2))\" y=\"\(fmt(top + h + 11))\" font-size=\"8\" fill=\"\(panel.passed ? "#444" : "#d00")\">\(escape(String(panel.note.prefix(60))))</text>\n"
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

    private func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }
}
