/// A binary table held in memory, one typed array per column.
public struct FITSTable: Sendable, Equatable {
    public enum Column: Sendable, Equatable {
        case double(name: String, values: [Double], unit: String = "")
        case int64(name: String, values: [Int64], unit: String = "")
        /// Stored as fixed-width ASCII; trailing blanks are not significant in FITS and are lost.
        case string(name: String, values: [String], unit: String = "")
        /// A fixed-length vector per row (e.g. polynomial coefficients); all rows must have the same length.
        case doubleVector(name: String, values: [[Double]], unit: String = "")
        case bool(name: String, values: [Bool], unit: String = "")

        public var name: String {
            switch self {
            case .double(let name, _, _), .int64(let name, _, _), .string(let name, _, _),
                 .doubleVector(let name, _, _), .bool(let name, _, _):
                name
            }
        }

        public var unit: String {
            switch self {
            case .double(_, _, let unit), .int64(_, _, let unit), .string(_, _, let unit),
                 .doubleVector(_, _, let unit), .bool(_, _, let unit):
                unit
            }
        }

        /// Number of rows in this column.
        public var count: Int {
            switch self {
            case .double(_, let values, _): values.count
            case .int64(_, let values, _): values.count
            case .string(_, let values, _): values.count
            case .doubleVector(_, let values, _): values.count
            case .bool(_, let values, _): values.count
            }
        }
    }

    public var columns: [Column]

    public init(columns: [Column] = []) {
        self.columns = columns
    }

    /// Rows of the first column; `FITSFile.writeTable` rejects tables whose columns disagree.
    public var rowCount: Int {
        columns.first?.count ?? 0
    }

    public func column(_ name: String) -> Column? {
        columns.first { $0.name.uppercased() == name.uppercased() }
    }

    public func doubles(_ name: String) -> [Double]? {
        if case .double(_, let values, _) = column(name) { values } else { nil }
    }

    public func ints(_ name: String) -> [Int64]? {
        if case .int64(_, let values, _) = column(name) { values } else { nil }
    }

    public func strings(_ name: String) -> [String]? {
        if case .string(_, let values, _) = column(name) { values } else { nil }
    }

    public func doubleVectors(_ name: String) -> [[Double]]? {
        if case .doubleVector(_, let values, _) = column(name) { values } else { nil }
    }

    public func bools(_ name: String) -> [Bool]? {
        if case .bool(_, let values, _) = column(name) { values } else { nil }
    }
}
