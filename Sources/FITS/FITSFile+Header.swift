import CFITSIO

extension FITSFile {
    /// Keys cfitsio writes itself when it creates an HDU or computes checksums; copying them from a
    /// caller's header (often one read from an input file) would contradict the new HDU.
    private static let structuralKeys: Set<String> = [
        "SIMPLE", "BITPIX", "NAXIS", "EXTEND", "PCOUNT", "GCOUNT", "XTENSION", "BZERO", "BSCALE",
        "CHECKSUM", "DATASUM", "TFIELDS", "THEAP", "LONGSTRN", "CONTINUE", "END",
    ]
    /// Indexed keys describing axes and table columns, matched by prefix followed by digits.
    private static let structuralPrefixes = ["NAXIS", "TFORM", "TTYPE", "TUNIT", "TDIM", "TSCAL", "TZERO", "TNULL"]
    /// Commentary that cfitsio adds to every primary header (ffcrim) and with LONGSTRN (ffplsw).
    private static let boilerplateComments: Set<String> = [
        "FITS (Flexible Image Transport System) format is defined in 'Astronomy",
        "and Astrophysics', volume 376, page 359; bibcode: 2001A&A...376..359H",
        "This FITS file may contain long string keyword values that are",
        "continued over multiple keywords.  The HEASARC convention uses the &",
        "character at the end of each substring which is then continued",
        "on the next keyword which has the name CONTINUE.",
    ]

    /// Appends the caller's cards to the current HDU, skipping structural keys.
    ///
    /// Keys longer than 8 characters or containing spaces become HIERARCH cards. Strings too long
    /// for one card are continued on CONTINUE cards written here rather than by ffpkls, because
    /// ffpkls drops the continuation "&" after a HIERARCH key (cfitsio 4.2).
    func writeUserCards(_ header: FITSHeader, extensionName: String?) throws(FITSError) {
        if let extensionName {
            try writeCard(HeaderCard(key: "EXTNAME", value: .string(extensionName), comment: "extension name"))
        }
        var wroteLongString = false
        for card in header where !isStructural(card) && !(extensionName != nil && card.key == "EXTNAME") {
            wroteLongString = try writeCard(card) || wroteLongString
        }
        if wroteLongString {
            try call("writing LONGSTRN") { ffplsw($0, &$1) }
        }
    }

    private func isStructural(_ card: HeaderCard) -> Bool {
        let key = HeaderCard.normalizedKey(card.key)
        if FITSFile.structuralKeys.contains(key) { return true }
        if card.isCommentary { return FITSFile.boilerplateComments.contains(card.comment.trimmingBlanks()) }
        return FITSFile.structuralPrefixes.contains { prefix in
            key.hasPrefix(prefix) && key.dropFirst(prefix.count).allSatisfy(\.isNumber)
        }
    }

    /// Writes one card; returns true when a string needed CONTINUE cards.
    @discardableResult
    private func writeCard(_ card: HeaderCard) throws(FITSError) -> Bool {
        let key = HeaderCard.normalizedKey(card.key)
        let operation = "writing keyword '\(key)'"
        switch (key, card.value) {
        case ("COMMENT", _):
            try call(operation) { ffpcom($0, card.comment, &$1) }
        case ("HISTORY", _):
            try call(operation) { ffphis($0, card.comment, &$1) }
        case ("", _):
            try call(operation) { ffprec($0, "        " + card.comment, &$1) }
        case (_, .undefined):
            try call(operation) { ffpkyu($0, key, card.comment, &$1) }
        case (_, .logical(let flag)):
            try call(operation) { ffpkyl($0, key, flag ? 1 : 0, card.comment, &$1) }
        case (_, .integer(let number)):
            try call(operation) { ffpkyj($0, key, number, card.comment, &$1) }
        case (_, .real(let number)):
            try writeReal(number, key: key, comment: card.comment)
        case (_, .string(let text)):
            let records = StringCards(key: key, needsHierarch: card.needsHierarch, value: text, comment: card.comment)
            guard let continued = records.continuedCards() else {
                try call(operation) { ffpkys($0, key, text, card.comment, &$1) }
                return false
            }
            for record in continued {
                try call(operation) { ffprec($0, record, &$1) }
            }
            return true
        }
        return false
    }

    /// Writes a real in Swift's shortest round-trip form so values read back bit-identical;
    /// cfitsio's ffpkyd would need a fixed digit count and prints noise digits.
    private func writeReal(_ number: Double, key: String, comment: String) throws(FITSError) {
        let operation = "writing keyword '\(key)'"
        guard number.isFinite else {
            throw FITSError(kind: .invalidArgument, path: path, operation: operation,
                            detail: "FITS header values cannot be NaN or infinite")
        }
        var value = Array(String(number).uppercased().utf8CString)
        var record = [CChar](repeating: 0, count: Int(FLEN_CARD))
        try call(operation) { _, status in ffmkky(key, &value, comment, &record, &status) }
        try call(operation) { ffprec($0, record, &$1) }
    }
}

/// Splits a string value over a first card and CONTINUE cards (FITS 4.0 long-string convention).
private struct StringCards {
    let key: String
    let needsHierarch: Bool
    let value: String
    let comment: String

    /// The 80-column records, or nil when the value fits on one card and ffpkys can write it
    /// (also nil when a HIERARCH key leaves no room for any text, so ffpkys reports the problem).
    func continuedCards() -> [String]? {
        let prefix = needsHierarch ? "HIERARCH \(key) = '" : key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= '"
        if prefix.utf8.count + escapedLength(value[...]) + 1 <= 80 { return nil }
        var records: [String] = []
        var remaining = value[...]
        var lead = prefix
        while true {
            let capacity = 80 - lead.utf8.count - 2
            let segment = longestPrefix(of: remaining, escapedLength: capacity)
            guard !segment.isEmpty else { return nil }
            remaining = remaining.dropFirst(segment.count)
            let escaped = segment.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''")
            if remaining.isEmpty {
                let closed = lead + escaped + "'"
                let room = 80 - closed.utf8.count - 3
                let note = comment.isEmpty || room <= 0 ? "" : " / " + String(comment.prefix(room))
                records.append(closed + note)
                return records
            }
            records.append(lead + escaped + "&'")
            lead = "CONTINUE  '"
        }
    }

    private func escapedLength(_ text: Substring) -> Int {
        text.reduce(0) { $0 + ($1 == "'" ? 2 : $1.utf8.count) }
    }

    /// Longest prefix whose escaped form fits, never splitting a doubled quote across cards.
    private func longestPrefix(of text: Substring, escapedLength limit: Int) -> Substring {
        var used = 0
        var end = text.startIndex
        while end < text.endIndex {
            let cost = text[end] == "'" ? 2 : text[end].utf8.count
            if used + cost > limit { break }
            used += cost
            end = text.index(after: end)
        }
        return text[text.startIndex..<end]
    }
}
