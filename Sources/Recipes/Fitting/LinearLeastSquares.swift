import CLAPACK

/// Linear least squares through LAPACK.
public enum LinearLeastSquares {
    public struct Failure: Error, CustomStringConvertible {
        public let info: Int32
        public var description: String { "LAPACK dgelsd failed (info \(info))" }
    }

    /// Minimises ‖A x − b‖₂ for a row-major m×n design matrix by LAPACK's
    /// SVD-based `dgelsd`, which stays well defined when columns are nearly
    /// dependent (singular values below `rcond` × the largest are dropped).
    ///
    /// - Returns: the n coefficients and the effective rank.
    public static func solve(design: [Double], rows m: Int, columns n: Int, rhs: [Double],
                             rcond: Double = 1e-12) throws(Failure) -> (coefficients: [Double], rank: Int) {
        precondition(design.count == m * n && rhs.count == m)
        guard m > 0, n > 0 else { return ([Double](repeating: .nan, count: n), 0) }
        var a = design
        var b = rhs + [Double](repeating: 0, count: max(0, n - m))
        var singular = [Double](repeating: 0, count: min(m, n))
        var rank: Int32 = 0
        let info = LAPACKE_dgelsd(LAPACK_ROW_MAJOR, Int32(m), Int32(n), 1, &a, Int32(n), &b, 1,
                                  &singular, rcond, &rank)
        guard info == 0 else { throw Failure(info: info) }
        return (Array(b.prefix(n)), Int(rank))
    }
}
