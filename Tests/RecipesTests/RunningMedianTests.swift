import Recipes
import Testing

@Suite("Running median and selection against sorting")
struct RunningMedianTests {
    @Test("Given NaN gaps, repeated values and both ends, the sliding window equals the median of each window sorted afresh",
          arguments: [1, 2, 5, 25, 101])
    func slidingWindow(width: Int) {
        var generator = SplitMix(seed: UInt64(width))
        let values: [Float] = (0..<700).map { i in
            let u = generator.uniform()
            if u < 0.05 || (300..<340).contains(i) { return .nan }
            if u < 0.08 { return .infinity }
            return Float((10 * generator.gaussian()).rounded())
        }
        let filtered = RunningMedian.filter(values, width: width)
        let half = width / 2
        for i in values.indices {
            let window = values[max(0, i - half)...min(values.count - 1, i + half)].filter(\.isFinite).sorted()
            let expected: Float = !values[i].isFinite || window.isEmpty ? .nan
                : window.count % 2 == 1 ? window[window.count / 2]
                : Float((Double(window[window.count / 2 - 1]) + Double(window[window.count / 2])) / 2)
            #expect(filtered[i] == expected || (filtered[i].isNaN && expected.isNaN), "i \(i): \(filtered[i]) vs \(expected)")
        }
    }

    @Test("Median and percentiles equal those of the sorted values, with many equal values and tiny inputs")
    func selection() {
        var generator = SplitMix(seed: 5)
        for n in [1, 2, 3, 16, 17, 18, 1000, 4097] {
            for spread in [0.0, 0.4, 1000] {
                let values: [Float] = (0..<n).map { _ in Float((spread * generator.gaussian()).rounded()) }
                let sorted = values.sorted()
                let expected = n % 2 == 1 ? Double(sorted[n / 2]) : (Double(sorted[n / 2 - 1]) + Double(sorted[n / 2])) / 2
                #expect(RobustStatistics.median(values) == expected, "n \(n), spread \(spread)")
                for percent in [0.0, 5, 50, 95, 100] {
                    var copy = values
                    let k = min(n - 1, max(0, Int((percent / 100 * Double(n - 1)).rounded())))
                    #expect(RobustStatistics.percentileInPlace(&copy, percent) == Double(sorted[k]))
                }
            }
        }
    }

    @Test("A stray NaN does not stop the selection")
    func nanTerminates() {
        var values: [Float] = (0..<1000).map { Float($0 % 7) }
        values[500] = .nan; values[0] = .nan; values[999] = .nan
        _ = RobustStatistics.medianInPlace(&values)
        var allNaN = [Float](repeating: .nan, count: 100)
        #expect(RobustStatistics.medianInPlace(&allNaN).isNaN)
    }
}
