import CFITSIO

/// Turns 80-byte header records into cards. Callers hold `exclusiveCFITSIO`, since the cfitsio
/// parsing helpers push messages for malformed cards.
///
/// cfitsio splits each record into name, value and comment (ffgknm, ffpsvc); this type types the
/// value and reassembles long strings. A string continues on the following CONTINUE cards whether
/// or not it ends in "&": cfitsio 4.2 omits the "&" when the first segment of a HIERARCH long
/// string fills its card, and its own ffgkls then returns only that first segment.
enum HeaderParser {
    static func parse(records: [UInt8]) -> FITSHeader {
        var cards: [HeaderCard] = []
        var continuedIndex: Int?
        for start in stride(from: 0, to: records.count - 79, by: 80) {
            let record = Array(records[start..<start + 80])
            let name = keyName(record)
            if name == "END" { break }
            if name == "CONTINUE" {
                if let index = continuedIndex, case .string(let head) = cards[index].value,
                   let (tail, comment) = continuation(record) {
                    cards[index].value = .string((head.hasSuffix("&") ? String(head.dropLast()) : head) + tail)
                    if !comment.isEmpty {
                        cards[index].comment += (cards[index].comment.isEmpty ? "" : " ") + comment
                    }
                    continue
                }
                cards.append(HeaderCard(key: name, comment: text(record.dropFirst(8)).trimmingBlanks()))
                continuedIndex = nil
                continue
            }
            let (value, comment) = valueAndComment(record)
            let card = HeaderCard(key: name, value: typed(value), comment: comment)
            continuedIndex = if case .string = card.value { cards.endIndex } else { nil }
            cards.append(card)
        }
        return FITSHeader(cards)
    }

    /// Keyword name; for HIERARCH cards cfitsio returns the name without the "HIERARCH " prefix.
    private static func keyName(_ record: [UInt8]) -> String {
        var card = cString(record)
        var name = [CChar](repeating: 0, count: Int(FLEN_KEYWORD))
        var length: Int32 = 0
        var status: Int32 = 0
        ffgknm(&card, &name, &length, &status)
        return status == 0 ? String(nulTerminated: name) : text(record.prefix(8)).trimmingBlanks()
    }

    /// Raw value text (quotes included) and comment; a card cfitsio cannot parse keeps its text as comment.
    private static func valueAndComment(_ record: [UInt8]) -> (value: String, comment: String) {
        var card = cString(record)
        var value = [CChar](repeating: 0, count: Int(FLEN_VALUE))
        var comment = [CChar](repeating: 0, count: Int(FLEN_COMMENT))
        var status: Int32 = 0
        ffpsvc(&card, &value, &comment, &status)
        guard status == 0 else { return ("", text(record.dropFirst(8)).trimmingBlanks()) }
        return (String(nulTerminated: value), String(nulTerminated: comment))
    }

    /// The string segment of a CONTINUE card, parsed by presenting it to cfitsio under another
    /// keyword: ffpsvc treats any card named CONTINUE as commentary.
    private static func continuation(_ record: [UInt8]) -> (String, String)? {
        var valued = record
        valued.replaceSubrange(0..<10, with: Array("VALUE   = ".utf8))
        let (value, comment) = valueAndComment(valued)
        guard case .string(let segment) = typed(value) else { return nil }
        return (segment, comment)
    }

    private static func typed(_ value: String) -> HeaderValue {
        if value.isEmpty { return .undefined }
        if value.hasPrefix("'") { return .string(unquoted(value)) }
        if value == "T" { return .logical(true) }
        if value == "F" { return .logical(false) }
        if let integer = Int64(value) { return .integer(integer) }
        let exponentFixed = value.uppercased().replacingCharacter("D", with: "E")
        if let real = Double(exponentFixed) { return .real(real) }
        return .string(value)
    }

    /// Removes the delimiting quotes, undoes quote doubling and drops trailing blanks, which FITS
    /// defines as insignificant in string values.
    private static func unquoted(_ value: String) -> String {
        var inner = Substring(value.dropFirst())
        if inner.hasSuffix("'") { inner = inner.dropLast() }
        return inner.split(separator: "''", omittingEmptySubsequences: false).joined(separator: "'").droppingTrailingBlanks()
    }

    private static func cString(_ record: [UInt8]) -> [CChar] {
        record.map { CChar(bitPattern: $0) } + [0]
    }

    private static func text<S: Collection<UInt8>>(_ bytes: S) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

private extension String {
    func replacingCharacter(_ old: Character, with new: Character) -> String {
        String(map { $0 == old ? new : $0 })
    }
}
