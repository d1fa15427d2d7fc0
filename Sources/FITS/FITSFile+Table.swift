import CFITSIO
import Foundation

extension FITSFile {
    /// Appends a binary-table HDU named `extensionName` holding `table`, plus `header`'s user cards.
    public func writeTable(_ table: FITSTable, extensionName: String, header: FITSHeader = FITSHeader()) throws(FITSError) {
        let rows = table.rowCount
        let operation = "writing table '\(extensionName)'"
        if let odd = table.columns.first(where: { $0.count != rows }) {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "column '\(odd.name)' has \(odd.count) rows, expected \(rows)")
        }
        let forms = try table.columns.map { (column) throws(FITSError) in try tform(column, operation: operation) }
        try withCStrings(table.columns.map(\.name)) { (names) throws(FITSError) in
            try withCStrings(forms) { (formats) throws(FITSError) in
                try withCStrings(table.columns.map(\.unit)) { (units) throws(FITSError) in
                    try call(operation) {
                        ffcrtb($0, BINARY_TBL, Int64(rows), Int32(table.columns.count), names, formats, units, nil, &$1)
                    }
                }
            }
        }
        try writeUserCards(header, extensionName: extensionName)
        guard rows > 0 else { return }
        for (index, column) in table.columns.enumerated() {
            try writeColumn(column, number: Int32(index + 1), rows: rows)
        }
    }

    /// The binary table of the current HDU. Scaled integer columns (TSCALn/TZEROn other than the
    /// unsigned-integer convention) read as `.double`, integer vectors as `.doubleVector`
    /// (exact up to 2^53), integer nulls as 0 and floating-point nulls as NaN. Complex, bit,
    /// logical-vector, string-array and variable-length columns are `.unsupported`.
    public func readTable() throws(FITSError) -> FITSTable {
        guard try currentKind() == .binaryTable else {
            throw FITSError(kind: .invalidArgument, path: path, operation: "reading table",
                            detail: "HDU \(try currentHDU()) is not a binary table")
        }
        var columnCount: Int32 = 0
        var rows: Int64 = 0
        try call("reading table size") { ffgncl($0, &columnCount, &$1) }
        try call("reading table size") { ffgnrwll($0, &rows, &$1) }
        var columns: [FITSTable.Column] = []
        for number in stride(from: Int32(1), through: columnCount, by: 1) {
            columns.append(try readColumn(number: number, rows: Int(rows)))
        }
        return FITSTable(columns: columns)
    }

    private func tform(_ column: FITSTable.Column, operation: String) throws(FITSError) -> String {
        switch column {
        case .double: return "1D"
        case .int64: return "1K"
        case .bool: return "1L"
        case .string(_, let values, _): return "\(max(1, values.map(\.utf8.count).max() ?? 0))A"
        case .doubleVector(let name, let values, _):
            let width = values.first?.count ?? 0
            guard values.allSatisfy({ $0.count == width }) else {
                throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                                detail: "vectors in column '\(name)' differ in length")
            }
            return "\(width)D"
        }
    }

    private func writeColumn(_ column: FITSTable.Column, number: Int32, rows: Int) throws(FITSError) {
        let operation = "writing column '\(column.name)'"
        func put<T: BitwiseCopyable>(_ values: [T], _ datatype: Int32) throws(FITSError) {
            var values = values
            try call(operation) { ffpcl($0, datatype, number, 1, 1, Int64(values.count), &values, &$1) }
        }
        switch column {
        case .double(_, let values, _): try put(values, TDOUBLE)
        case .int64(_, let values, _): try put(values, TLONGLONG)
        case .doubleVector(_, let values, _): try put(values.flatMap { $0 }, TDOUBLE)
        case .bool(_, let values, _): try put(values.map { CChar($0 ? 1 : 0) }, TLOGICAL)
        case .string(_, let values, _):
            try withCStrings(values) { (strings) throws(FITSError) in
                try call(operation) { ffpcl($0, TSTRING, number, 1, 1, Int64(values.count), strings, &$1) }
            }
        }
    }

    private func readColumn(number: Int32, rows: Int) throws(FITSError) -> FITSTable.Column {
        var name = [CChar](repeating: 0, count: Int(FLEN_VALUE))
        var unit = [CChar](repeating: 0, count: Int(FLEN_VALUE))
        var format = [CChar](repeating: 0, count: Int(FLEN_VALUE))
        var display = [CChar](repeating: 0, count: Int(FLEN_VALUE))
        var (storedRepeat, scale, zero, null): (Int64, Double, Double, Int64) = (0, 1, 0, 0)
        try call("reading column \(number) description") {
            ffgbclll($0, number, &name, &unit, &format, &storedRepeat, &scale, &zero, &null, &display, &$1)
        }
        var typecode: Int32 = 0
        var repeatCount: Int64 = 0
        var width: Int64 = 0
        try call("reading column \(number) type") { ffeqtyll($0, number, &typecode, &repeatCount, &width, &$1) }
        let columnName = String(nulTerminated: name)
        let columnUnit = String(nulTerminated: unit)
        let operation = "reading column '\(columnName)'"
        let perRow = Int(repeatCount)

        let integerTypes = [TBYTE, TSBYTE, TSHORT, TUSHORT, TINT, TUINT, TLONG, TULONG, TLONGLONG]
        let isNumeric = typecode == TFLOAT || typecode == TDOUBLE || integerTypes.contains(typecode)
        switch typecode {
        case _ where isNumeric && perRow != 1:
            let flat = try readValues(number, count: rows * perRow, Double.nan, operation, ffgcvd)
            return .doubleVector(name: columnName, values: (0..<rows).map { Array(flat[$0 * perRow..<($0 + 1) * perRow]) },
                                 unit: columnUnit)
        case TFLOAT, TDOUBLE:
            return .double(name: columnName, values: try readValues(number, count: rows, Double.nan, operation, ffgcvd),
                           unit: columnUnit)
        case _ where integerTypes.contains(typecode):
            return .int64(name: columnName, values: try readValues(number, count: rows, Int64(0), operation, ffgcvjj),
                          unit: columnUnit)
        case TLOGICAL where perRow == 1:
            let flags = try readValues(number, count: rows, CChar(0), operation, ffgcvl)
            return .bool(name: columnName, values: flags.map { $0 != 0 }, unit: columnUnit)
        case TSTRING where repeatCount <= width:
            return .string(name: columnName, values: try readStrings(number, rows: rows, width: Int(width), operation),
                           unit: columnUnit)
        default:
            throw FITSError(kind: .unsupported, path: path, operation: operation,
                            detail: "TFORM '\(String(nulTerminated: format))' has no FITSTable.Column equivalent")
        }
    }

    /// Reads `count` elements of one column starting at row 1 with a cfitsio ffgcv* function.
    private func readValues<T: BitwiseCopyable>(
        _ number: Int32, count: Int, _ nullValue: T, _ operation: String,
        _ reader: (UnsafeMutablePointer<fitsfile>?, Int32, Int64, Int64, Int64, T,
                   UnsafeMutablePointer<T>?, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
    ) throws(FITSError) -> [T] {
        var values = [T](repeating: nullValue, count: count)
        guard count > 0 else { return values }
        var anyNull: Int32 = 0
        try call(operation) { _ = reader($0, number, 1, 1, Int64(count), nullValue, &values, &anyNull, &$1) }
        return values
    }

    private func readStrings(_ number: Int32, rows: Int, width: Int, _ operation: String) throws(FITSError) -> [String] {
        guard rows > 0 else { return [] }
        let stride = width + 1
        var storage = [CChar](repeating: 0, count: rows * stride)
        var nullString: [CChar] = [0]
        var anyNull: Int32 = 0
        try storage.withUnsafeMutableBufferPointer { (buffer) throws(FITSError) in
            var pointers = (0..<rows).map { Optional(buffer.baseAddress! + $0 * stride) }
            try call(operation) { ffgcvs($0, number, 1, 1, Int64(rows), &nullString, &pointers, &anyNull, &$1) }
        }
        // cfitsio returns an all-blank field as " "; trailing blanks are padding in FITS strings.
        return (0..<rows).map { String(nulTerminated: Array(storage[$0 * stride..<($0 + 1) * stride])).droppingTrailingBlanks() }
    }

    /// Lends cfitsio a `char **` array of NUL-terminated copies of `strings`.
    private func withCStrings<R>(_ strings: [String],
                                 _ body: (UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) throws(FITSError) -> R) throws(FITSError) -> R {
        var pointers = strings.map { strdup($0) }
        defer { pointers.forEach { free($0) } }
        return try pointers.withUnsafeMutableBufferPointer { (buffer) throws(FITSError) in try body(buffer.baseAddress) }
    }
}
