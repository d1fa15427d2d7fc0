/// One keyword record of a FITS header.
///
/// Keys are stored normalised (upper case, "HIERARCH " prefix removed, single spaces) so that
/// `ESO DPR CATG` from a file and `HIERARCH ESO DPR CATG` typed by a caller name the same card.
/// Commentary cards (COMMENT, HISTORY, blank keyword) carry `.undefined` and their text in `comment`.
public struct HeaderCard: Sendable, Equatable {
    public private(set) var key: String
    public var value: HeaderValue
    public var comment: String

    public init(key: String, value: HeaderValue = .undefined, comment: String = "") {
        self.key = HeaderCard.normalizedKey(key)
        self.value = value
        self.comment = comment
    }

    /// True for COMMENT, HISTORY and blank-keyword cards, which may repeat and have no value.
    public var isCommentary: Bool {
        key == "COMMENT" || key == "HISTORY" || key.isEmpty
    }

    /// Canonical spelling used for lookup and writing: FITS keywords are upper case, and the
    /// HIERARCH prefix is a card-image detail that cfitsio adds back when a key needs it.
    static func normalizedKey(_ key: String) -> String {
        // Almost every key is already canonical (upper case, single spaces, no
        // HIERARCH): check the bytes once rather than rebuild the string.
        var previousSpace = true
        var canonical = !key.hasPrefix("HIERARCH ")
        for byte in key.utf8 where canonical {
            let space = byte == 0x20
            if (byte >= 0x61 && byte <= 0x7A) || byte >= 0x80 || (space && previousSpace) { canonical = false }
            previousSpace = space
        }
        if canonical && !previousSpace || key.isEmpty { return key }
        let words = key.uppercased().split(separator: " ")
        let significant = words.first == "HIERARCH" ? words.dropFirst() : words[...]
        return significant.joined(separator: " ")
    }

    /// True when the key cannot be a standard 8-character keyword and must be written as HIERARCH.
    var needsHierarch: Bool {
        key.utf8.count > 8 || key.contains(" ")
    }
}
