import Foundation
import Pipeline
import Testing

/// Plot axes a person can read: nice ticks, distinct labels, whole numbers on counts, finite ranges.
@Suite("Axis scale")
struct AxisScaleTests {
    @Test("Close values get labels with enough decimals to differ (not 0.004, 0.004)")
    func distinctLabels() {
        let scale = AxisScale(values: [0.00401, 0.00412, 0.00449])
        #expect(Set(scale.labels).count == scale.labels.count, "\(scale.labels)")
        #expect(scale.labels.count >= 3)
        #expect(scale.lower <= 0.00401 && scale.upper >= 0.00449)
        // Steps are 1, 2 or 5 × 10ⁿ
        let step = scale.ticks[1] - scale.ticks[0]
        let mantissa = step / pow(10, log10(step).rounded(.down))
        #expect([1.0, 2.0, 5.0, 10.0].contains { abs($0 - mantissa) < 1e-6 }, "step \(step)")
    }

    @Test("A count axis has whole-number ticks, even for a constant count")
    func integerTicks() {
        for values in [[0.0, 1, 3], [2.0, 2, 2], [0.0]] {
            let scale = AxisScale(values: values, integer: true)
            #expect(scale.ticks.allSatisfy { $0 == $0.rounded() }, "\(values): \(scale.ticks)")
            #expect(scale.labels.allSatisfy { !$0.contains(".") }, "\(values): \(scale.labels)")
            #expect(scale.lower < scale.upper)
        }
    }

    @Test("NaN and infinities are ignored; no values or one value give a widened, finite range")
    func finiteOnly() {
        let polluted = AxisScale(values: [.nan, 1.0, .infinity, 2.0, -.infinity])
        #expect(polluted.lower <= 1 && polluted.upper >= 2 && polluted.upper - polluted.lower < 5)
        for values in [[Double](), [.nan], [5.0]] {
            let scale = AxisScale(values: values)
            #expect(scale.lower.isFinite && scale.upper.isFinite && scale.lower < scale.upper, "\(values)")
            #expect(scale.labels.allSatisfy { Double($0)?.isFinite == true }, "\(scale.labels)")
        }
    }

    @Test("A few absurd values (a failed fit's 1e158) do not set the range of sub-pixel residuals")
    func absurdOutliers() {
        var residuals = (0..<200).map { Double($0 % 17) * 0.001 - 0.008 }
        residuals += [2.81e21, 2.01e158]
        let scale = AxisScale(values: residuals)
        #expect(scale.clipped)
        #expect(scale.upper - scale.lower < 0.1, "\(scale.lower)…\(scale.upper)")
    }

    @Test("A QC bound near the data is inside the range; one far away does not flatten the data")
    func includesNearBounds() {
        let near = AxisScale(values: [1.0, 1.02], including: [1.06])
        #expect(near.upper >= 1.06)
        let far = AxisScale(values: [1.0, 1.02], including: [1e6])
        #expect(far.upper < 10)
    }
}

/// The trend chart draws what AxisScale decides.
@Suite("SVG chart axes")
struct SVGChartAxisTests {
    @Test("A chart of NaN-polluted, absurd residuals has finite, distinct, sub-pixel tick labels and a labelled QC range")
    func pollutedChart() {
        var points = (0..<100).map { SVGChart.Point(x: Double($0), y: Double($0 % 7) * 0.002 - 0.006) }
        points += [.init(x: 50, y: .nan), .init(x: 60, y: .infinity), .init(x: 70, y: 2.01e158, passed: false)]
        let svg = SVGChart(title: "residuals", xLabel: "x", yLabel: "px", series: [.init(name: "X", points: points, connect: false)],
                           band: (nil, 0.1)).render()
        let ticks = svg.components(separatedBy: "<text class=\"tick-y\"").dropFirst().compactMap { tail -> Double? in
            guard let open = tail.firstIndex(of: ">"), let close = tail.range(of: "</text>") else { return nil }
            return Double(tail[tail.index(after: open)..<close.lowerBound])
        }
        #expect(ticks.count >= 3)
        #expect(ticks.allSatisfy { $0.isFinite && abs($0) < 1 }, "\(ticks)")
        #expect(Set(ticks).count == ticks.count)
        #expect(svg.contains(">QC range</text>") && svg.contains(">QC failed</text>"))
        #expect(!svg.contains("e+"), "no scientific ticks for sub-pixel residuals")
    }

    @Test("A count gets whole-number ticks without being told")
    func countAxis() {
        let svg = SVGChart(title: "failedOrderCount", xLabel: "night", yLabel: "orders",
                           series: [.init(name: "", points: [.init(x: 0, y: 0), .init(x: 1, y: 1), .init(x: 2, y: 0)])]).render()
        let labels = svg.components(separatedBy: "<text class=\"tick-y\"").dropFirst().compactMap { tail -> String? in
            guard let open = tail.firstIndex(of: ">"), let close = tail.range(of: "</text>") else { return nil }
            return String(tail[tail.index(after: open)..<close.lowerBound])
        }
        #expect(!labels.isEmpty && labels.allSatisfy { Int($0) != nil }, "\(labels)")
    }
}
