import Foundation

/// Identifies arc lines with laboratory wavelengths without a template of an earlier
/// solution: only the grating's nominal dispersion and central wavelength (with generous
/// tolerances) are known in advance, as in the instrument profile.
///
/// 1. **Vote** (a Hough transform in the spirit of the "global pattern matching" of
///    arc-line identification codes): for every trial model λ(p) = λc + s·(d·u + c·u²),
///    u = p − (N−1)/2, over a grid of dispersions d (nominal ± `dispersionTolerance`),
///    curvatures c (|c| ≤ `maxCurvature`) and both directions s = ±1 unless `direction`
///    fixes one, each pair (detected line, catalog line) votes for the λc it implies; the
///    fullest λc bin (width `voteTolerance` pixels × d, within the central-wavelength
///    window) gives the first model. Missing and unknown lines only add noise to the
///    histogram, which the true model rises above.
/// 2. **Consensus**: pairs within `candidateWindow` pixels of that model are candidates;
///    every four candidates in increasing order (at most `maxCandidateLines` of the
///    brightest detections take part) define a cubic (Lagrange), and the cubic that puts
///    the most detections within `inlierTolerance` pixels of a catalog line wins (ties: the
///    smaller summed residual). This absorbs the higher-order terms the vote leaves out.
/// 3. **Fit**: every detection is matched to its nearest catalog line within
///    `inlierTolerance` pixels (one detection per catalog line, the closer one), a
///    polynomial of degree `degree` is fitted with σ-clipping, and matching and fitting are
///    repeated until the matched set is stable.
/// 4. **Growth**: the detection nearest beyond either end of the matched span is added when
///    exactly one unused catalog line lies within `growthTolerance` pixels of its
///    extrapolated wavelength, then step 3 runs again; a grown line the fit clips is dropped.
///    This reaches the ends of the detector, where a polynomial's extrapolation drifts.
///
/// Wavelengths in the catalog's unit (Å here), positions in pixels.
public struct LineIdentification: Sendable {
    public var nominalDispersion: Double
    public var dispersionTolerance: Double = 0.08
    public var dispersionStep: Double = 0.0005
    public var maxCurvature: Double = 5e-5
    public var curvatureStep: Double = 2e-6
    /// +1: wavelength grows with pixel; −1: falls; 0: try both.
    public var direction: Int = 0
    public var centralWavelength: Double
    public var centralWavelengthTolerance: Double
    public var voteTolerance: Double = 4
    public var candidateWindow: Double = 15
    public var inlierTolerance: Double = 0.5
    /// Beyond the matched span, a line this many pixels from its prediction is taken if it is the only one (0: no growth).
    public var growthTolerance: Double = 3
    /// Only lines at least this far above the noise are grown: a faint detection with a chance neighbour
    /// in the catalog would bend the polynomial's end, where nothing else holds it.
    public var growthMinimumSNR: Double = 20
    public var maxCandidateLines: Int = 40
    public var degree: Int = 3
    public var clipSigma: Double = 3
    /// Lines within this many pixels of the fit are never clipped.
    public var clipFloor: Double = 0.05

    public init(nominalDispersion: Double, centralWavelength: Double, centralWavelengthTolerance: Double) {
        self.nominalDispersion = nominalDispersion
        self.centralWavelength = centralWavelength
        self.centralWavelengthTolerance = centralWavelengthTolerance
    }

    public struct Match: Sendable, Equatable {
        public var line: Int
        public var wavelength: Double
        public var position: Double
        /// Catalog − fitted wavelength.
        public var residual: Double
        /// Residual in pixels (residual over the local dispersion).
        public var residualPixels: Double
        public var clipped: Bool
    }

    public struct Solution: Sendable {
        /// λ(p): a `PolynomialSurface` in (p, 0).
        public var polynomial: PolynomialSurface
        public var matches: [Match]
        public var pixelCount: Int
        public func wavelength(at p: Double) -> Double { polynomial.evaluate(p, 0) }
        /// dλ/dp, by a central difference of ±0.5 px.
        public func dispersion(at p: Double) -> Double { wavelength(at: p + 0.5) - wavelength(at: p - 0.5) }
        public var used: [Match] { matches.filter { !$0.clipped } }
        /// RMS of the used lines' residuals, pixels.
        public var rmsPixels: Double {
            let r = used.map(\.residualPixels)
            return r.isEmpty ? .nan : (r.map { $0 * $0 }.reduce(0, +) / Double(r.count)).squareRoot()
        }
        public var rmsWavelength: Double {
            let r = used.map(\.residual)
            return r.isEmpty ? .nan : (r.map { $0 * $0 }.reduce(0, +) / Double(r.count)).squareRoot()
        }
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    public func identify(_ lines: [ArcLinePeak], catalog unsorted: [Double], pixelCount: Int) throws(Failure) -> Solution {
        let catalog = unsorted.sorted()
        guard lines.count >= 4, catalog.count >= 4 else {
            throw Failure(description: "\(lines.count) lines detected and \(catalog.count) in the catalog: at least 4 of each are needed")
        }
        let half = Double(pixelCount - 1) / 2
        let positions = lines.map(\.position)
        guard let first = vote(positions: positions, catalog: catalog, half: half) else {
            throw Failure(description: "no trial model within the nominal dispersion and central wavelength collected 4 line matches")
        }
        let firstModel: (Double) -> Double = { p in
            let u = p - half
            return first.centre + first.sign * (first.dispersion * u + first.curvature * u * u)
        }
        let cubic = try consensus(lines: lines, catalog: catalog, model: firstModel, half: half)
        return try refine(positions: positions, snrs: lines.map(\.snr), catalog: catalog, model: cubic, pixelCount: pixelCount)
    }

    // MARK: - vote

    struct Vote { var count: Int; var sign: Double; var dispersion: Double; var curvature: Double; var centre: Double }

    func vote(positions: [Double], catalog: [Double], half: Double) -> Vote? {
        let lo = centralWavelength - centralWavelengthTolerance
        let hi = centralWavelength + centralWavelengthTolerance
        let reach = nominalDispersion * (1 + dispersionTolerance) * half * 1.2 + maxCurvature * half * half
        let nearby = catalog.filter { $0 >= lo - reach && $0 <= hi + reach }
        let signs: [Double] = direction > 0 ? [1] : direction < 0 ? [-1] : [1, -1]
        let us = positions.map { $0 - half }
        var best: Vote?
        let dSteps = Int((2 * dispersionTolerance / dispersionStep).rounded())
        let cSteps = maxCurvature > 0 ? Int((maxCurvature / curvatureStep).rounded()) : 0
        for sign in signs {
            for ci in -cSteps...cSteps {
                let c = Double(ci) * curvatureStep
                for di in 0...dSteps {
                    let d = nominalDispersion * (1 - dispersionTolerance + Double(di) * dispersionStep)
                    let width = voteTolerance * d
                    let binCount = Int(((hi - lo) / width).rounded(.up)) + 2
                    // Two histograms shifted by half a bin, so a cluster on a bin boundary is not split.
                    var bins = [Int](repeating: 0, count: 2 * binCount)
                    for u in us {
                        let q = sign * (d * u + c * u * u)
                        // Only catalog lines putting the centre inside [lo, hi): a binary search, not a scan.
                        var k = Self.firstIndex(nearby, notBelow: lo + q)
                        while k < nearby.count, nearby[k] < hi + q {
                            let t = (nearby[k] - q - lo) / width
                            if t >= 0 {
                                bins[Int(t)] += 1
                                bins[binCount + Int(t + 0.5)] += 1
                            }
                            k += 1
                        }
                    }
                    for (k, n) in bins.enumerated() where n > (best?.count ?? 3) {
                        let centre = k < binCount ? lo + (Double(k) + 0.5) * width : lo + Double(k - binCount) * width
                        best = Vote(count: n, sign: sign, dispersion: d, curvature: c, centre: centre)
                    }
                }
            }
        }
        return best
    }

    // MARK: - consensus

    func consensus(lines: [ArcLinePeak], catalog: [Double], model: (Double) -> Double, half: Double) throws(Failure) -> (Double) -> Double {
        let brightest = Set(lines.indices.sorted { lines[$0].amplitude > lines[$1].amplitude }.prefix(maxCandidateLines))
        var pairs: [(p: Double, lambda: Double, line: Int)] = []
        for i in lines.indices where brightest.contains(i) {
            let predicted = model(lines[i].position)
            for lambda in catalog where abs(lambda - predicted) < candidateWindow * nominalDispersion {
                pairs.append((lines[i].position, lambda, i))
            }
        }
        pairs.sort { $0.p < $1.p }
        guard pairs.count >= 4 else { throw Failure(description: "only \(pairs.count) line–catalog candidates near the first model") }
        let tolerance = inlierTolerance * nominalDispersion
        var bestCount = 0, bestSum = Double.infinity
        var bestNodes: [(Double, Double)] = []
        let n = pairs.count
        var seen = [Bool](repeating: false, count: lines.count)
        // Two nodes must imply a dispersion the grating can have (nominal ± tolerance, widened by
        // the largest curvature over the detector): most random combinations fail here.
        let slack = 2 * maxCurvature * half
        let slopes = (nominalDispersion * (1 - dispersionTolerance) - slack)...(nominalDispersion * (1 + dispersionTolerance) + slack)
        let increasing = model(1) > model(0)
        func plausible(_ i: Int, _ j: Int) -> Bool {
            guard pairs[j].p > pairs[i].p else { return false }
            let slope = (pairs[j].lambda - pairs[i].lambda) / (pairs[j].p - pairs[i].p)
            return slopes.contains(increasing ? slope : -slope)
        }
        for a in 0..<(n - 3) {
            for b in (a + 1)..<(n - 2) where plausible(a, b) {
                for c in (b + 1)..<(n - 1) where plausible(b, c) {
                    for d in (c + 1)..<n where plausible(c, d) {
                        let nodes = [(pairs[a].p, pairs[a].lambda), (pairs[b].p, pairs[b].lambda),
                                     (pairs[c].p, pairs[c].lambda), (pairs[d].p, pairs[d].lambda)]
                        for k in seen.indices { seen[k] = false }
                        var count = 0, sum = 0.0
                        for pair in pairs {
                            let r = abs(Self.lagrange(nodes, at: pair.p) - pair.lambda)
                            if r < tolerance, !seen[pair.line] { seen[pair.line] = true; count += 1; sum += r }
                        }
                        if count > bestCount || (count == bestCount && sum < bestSum) {
                            bestCount = count; bestSum = sum; bestNodes = nodes
                        }
                    }
                }
            }
        }
        guard bestCount >= 4 else { throw Failure(description: "no cubic through four candidates agreed with more than \(bestCount) lines") }
        let nodes = bestNodes
        return { Self.lagrange(nodes, at: $0) }
    }

    static func lagrange(_ nodes: [(Double, Double)], at x: Double) -> Double {
        var sum = 0.0
        for i in nodes.indices {
            var term = nodes[i].1
            for j in nodes.indices where j != i { term *= (x - nodes[j].0) / (nodes[i].0 - nodes[j].0) }
            sum += term
        }
        return sum
    }

    // MARK: - fit

    func refine(positions: [Double], snrs: [Double], catalog: [Double], model start: @escaping (Double) -> Double, pixelCount: Int) throws(Failure) -> Solution {
        var model = start
        var previous: [Int: Double] = [:]
        var solution: Solution?
        // Lines added by growing the solution beyond its span (kept while the fit keeps them).
        var grown: [Int: Double] = [:]
        var tried: Set<Int> = []
        for _ in 0..<(10 + 2 * positions.count) {
            // Nearest catalog line within tolerance; one detection per catalog line.
            var claim: [Double: (line: Int, distance: Double)] = [:]
            for (i, p) in positions.enumerated() {
                let predicted = model(p)
                let local = abs(model(p + 0.5) - model(p - 0.5))
                guard let nearest = Self.nearest(catalog, to: predicted), abs(nearest - predicted) < inlierTolerance * local else { continue }
                let distance = abs(nearest - predicted)
                if let held = claim[nearest], held.distance <= distance { continue }
                claim[nearest] = (i, distance)
            }
            var matched = Dictionary(uniqueKeysWithValues: claim.map { ($0.value.line, $0.key) })
            for (line, lambda) in grown where matched[line] == nil && !matched.values.contains(lambda) { matched[line] = lambda }
            guard matched.count > degree + 1 else {
                throw Failure(description: "only \(matched.count) lines matched the catalog for a degree-\(degree) solution")
            }
            let (fitted, surface) = try fit(matched, positions: positions, pixelCount: pixelCount)
            for match in fitted.matches where match.clipped { grown[match.line] = nil }
            model = { surface.evaluate($0, 0) }
            solution = fitted
            if matched != previous { previous = matched; continue }
            // Stable: try to grow by one line beyond either end of the span.
            guard let next = grow(positions: positions, snrs: snrs, catalog: catalog, matched: matched, tried: &tried, model: model) else { break }
            grown[next.line] = next.wavelength
        }
        return solution!
    }

    /// The unmatched detection (SNR ≥ `growthMinimumSNR`) nearest beyond either end of the matched span whose predicted
    /// wavelength has exactly one catalog line within `growthTolerance` pixels: a line the
    /// polynomial's extrapolation misses by more than `inlierTolerance`, but unambiguously.
    func grow(positions: [Double], snrs: [Double], catalog: [Double], matched: [Int: Double], tried: inout Set<Int>,
              model: (Double) -> Double) -> (line: Int, wavelength: Double)? {
        guard growthTolerance > inlierTolerance, let low = matched.keys.map({ positions[$0] }).min(),
              let high = matched.keys.map({ positions[$0] }).max() else { return nil }
        let used = Set(matched.values)
        let outside = positions.indices.filter { matched[$0] == nil && !tried.contains($0) && snrs[$0] >= growthMinimumSNR
            && (positions[$0] < low || positions[$0] > high) }
            .sorted { min(abs(positions[$0] - low), abs(positions[$0] - high)) < min(abs(positions[$1] - low), abs(positions[$1] - high)) }
        for i in outside {
            tried.insert(i)
            let p = positions[i], predicted = model(p)
            let window = growthTolerance * abs(model(p + 0.5) - model(p - 0.5))
            let near = catalog.filter { abs($0 - predicted) < window && !used.contains($0) }
            if near.count == 1 { return (i, near[0]) }
        }
        return nil
    }

    /// Least squares on the kept lines, clipping lines beyond `clipSigma` robust σ of the kept
    /// residuals (in pixels) but never one within `clipFloor` pixels: with well-measured lines σ
    /// can fall to a few thousandths of a pixel, where clipping would only throw good lines away.
    func fit(_ matched: [Int: Double], positions: [Double], pixelCount: Int) throws(Failure) -> (Solution, PolynomialSurface) {
        let order = matched.keys.sorted()
        let points = order.map { [positions[$0], 0] }, values = order.map { matched[$0]! }
        let scaling = (offsets: [Double(pixelCount - 1) / 2, 0], halfRanges: [Double(pixelCount - 1) / 2, 1])
        var kept = [Bool](repeating: true, count: order.count)
        var surface: PolynomialSurface!
        var residualPixels = [Double](repeating: 0, count: order.count)
        for _ in 0..<10 {
            let use = order.indices.filter { kept[$0] }
            guard use.count > degree + 1 else { throw Failure(description: "only \(use.count) lines left for a degree-\(degree) solution") }
            do {
                surface = try PolynomialSurfaceFit(degrees: [degree, 0], clipSigma: 1e9, maxIterations: 1)
                    .fit(points: use.map { points[$0] }, values: use.map { values[$0] }, scaling: scaling).surface
            } catch {
                throw Failure(description: "wavelength fit failed: \(error)")
            }
            for k in order.indices {
                let p = positions[order[k]]
                residualPixels[k] = (values[k] - surface.evaluate(p, 0)) / abs(surface.evaluate(p + 0.5, 0) - surface.evaluate(p - 0.5, 0))
            }
            let keptResiduals = order.indices.filter { kept[$0] }.map { Float(residualPixels[$0]) }
            let sigma = RobustStatistics.madSigma(keptResiduals).sigma
            let next = residualPixels.map { abs($0) <= max(clipSigma * sigma, clipFloor) }
            if next == kept { break }
            kept = next
        }
        let matches = order.enumerated().map { k, i in
            let local = abs(surface.evaluate(positions[i] + 0.5, 0) - surface.evaluate(positions[i] - 0.5, 0))
            return Match(line: i, wavelength: values[k], position: positions[i], residual: residualPixels[k] * local,
                         residualPixels: residualPixels[k], clipped: !kept[k])
        }
        return (Solution(polynomial: surface, matches: matches, pixelCount: pixelCount), surface)
    }

    /// Index of the first element ≥ `value` in a sorted array (its count if none).
    static func firstIndex(_ sorted: [Double], notBelow value: Double) -> Int {
        var lo = 0, hi = sorted.count
        while lo < hi { let mid = (lo + hi) / 2; if sorted[mid] < value { lo = mid + 1 } else { hi = mid } }
        return lo
    }

    static func nearest(_ sorted: [Double], to value: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        var lo = 0, hi = sorted.count
        while lo < hi { let mid = (lo + hi) / 2; if sorted[mid] < value { lo = mid + 1 } else { hi = mid } }
        let candidates = [lo - 1, lo].filter { $0 >= 0 && $0 < sorted.count }.map { sorted[$0] }
        return candidates.min { abs($0 - value) < abs($1 - value) }
    }
}
