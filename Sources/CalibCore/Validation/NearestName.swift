/// The valid name nearest to a misspelt one, for "did you mean …?" in
/// refusals: Levenshtein distance, compared case-insensitively so that
/// `stablesecs` still finds `stableSeconds`.
public enum NearestName {
    /// The closest candidate, or nil when none is close enough to be a
    /// plausible typo (distance more than a third of the longer name, at least 2).
    public static func suggestion(for name: String, among candidates: some Collection<String>) -> String? {
        let wanted = Array(name.lowercased())
        var best: (name: String, distance: Int)?
        for candidate in candidates {
            let d = distance(wanted, Array(candidate.lowercased()))
            if best == nil || d < best!.distance || (d == best!.distance && candidate < best!.name) { best = (candidate, d) }
        }
        guard let best else { return nil }
        let limit = max(2, max(wanted.count, best.name.count) / 3)
        if best.distance <= limit { return best.name }
        // A prefix ("readnoise" for "readNoiseADU") is as good a hint as a typo.
        guard name.count >= 3 else { return nil }
        return candidates.filter { $0.lowercased().hasPrefix(name.lowercased()) }.min()
    }

    /// " (did you mean X?)" or "".
    public static func hint(for name: String, among candidates: some Collection<String>) -> String {
        suggestion(for: name, among: candidates).map { "; did you mean \($0)?" } ?? ""
    }

    /// Edit distance (insertions, deletions, substitutions), two rows of memory.
    static func distance(_ a: [Character], _ b: [Character]) -> Int {
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = [Int](repeating: 0, count: b.count + 1)
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}
