import Foundation

/// SplitMix64 finaliser (Steele, Lea & Flood 2014); used to derive independent stream seeds.
@inline(__always)
func splitMix64(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// xoshiro256** (Blackman & Vigna 2018), seeded through SplitMix64 from a tuple of stream keys
/// (e.g. seed, frame kind, row), so results never depend on thread scheduling.
public struct Xoshiro256StarStar: RandomNumberGenerator, Sendable {
    private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64
    private var spareNormal: Double = 0
    private var hasSpare = false

    /// A stream keyed by any number of 64-bit values.
    public init(keys: UInt64...) {
        var h: UInt64 = 0x6A09_E667_F3BC_C908
        for k in keys { h = splitMix64(h ^ splitMix64(k)) }
        var x = h
        x = splitMix64(x); s0 = x
        x = splitMix64(x &+ 1); s1 = x
        x = splitMix64(x &+ 2); s2 = x
        x = splitMix64(x &+ 3); s3 = x
        if (s0 | s1 | s2 | s3) == 0 { s0 = 1 }
    }

    @inline(__always)
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @inline(__always)
    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// Uniform in [0, 1).
    @inline(__always)
    public mutating func uniform() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// Uniform in (0, 1].
    @inline(__always)
    public mutating func uniformOpenZero() -> Double { Double((next() >> 11) + 1) * 0x1p-53 }

    /// Standard normal deviate (Marsaglia polar method, spare value cached).
    @inline(__always)
    public mutating func normal() -> Double {
        if hasSpare { hasSpare = false; return spareNormal }
        var u = 0.0, v = 0.0, s = 0.0
        repeat {
            u = 2 * uniform() - 1
            v = 2 * uniform() - 1
            s = u * u + v * v
        } while s >= 1 || s == 0
        let f = (-2 * Foundation.log(s) / s).squareRoot()
        spareNormal = v * f
        hasSpare = true
        return u * f
    }

    /// Poisson deviate: exact (Knuth multiplication) for mean < 30, Gaussian approximation
    /// (rounded, clipped at 0) above.
    public mutating func poisson(_ mean: Double) -> Double {
        if mean <= 0 { return 0 }
        if mean < 30 {
            let l = Foundation.exp(-mean)
            var k = 0.0
            var p = uniformOpenZero()
            while p > l { k += 1; p *= uniformOpenZero() }
            return k
        }
        return max(0, (mean + mean.squareRoot() * normal()).rounded())
    }
}
