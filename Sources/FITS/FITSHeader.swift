/// All cards of one HDU in file order, including structural and commentary cards.
///
/// Lookups are case-insensitive, ignore a "HIERARCH " prefix and return the first matching
/// card, which is how FITS readers treat duplicated keywords.
public struct FITSHeader: Sendable, Equatable, Sequence {
    public var cards: [HeaderCard]

    public init(_ cards: [HeaderCard] = []) {
        self.cards = cards
    }

    public subscript(key: String) -> HeaderValue? {
        card(key)?.value
    }

    /// The first card with this key, for callers that also need its comment.
    public func card(_ key: String) -> HeaderCard? {
        index(of: key).map { cards[$0] }
    }

    public func string(_ key: String) -> String? { self[key]?.stringValue }
    public func double(_ key: String) -> Double? { self[key]?.doubleValue }
    public func int(_ key: String) -> Int64? { self[key]?.intValue }
    public func bool(_ key: String) -> Bool? { self[key]?.boolValue }

    /// Replaces the value of the first card with this key, or appends a new card.
    /// An empty `comment` keeps the existing card's comment, so updating a value does not erase documentation.
    public mutating func set(_ key: String, _ value: HeaderValue, comment: String = "") {
        if let index = index(of: key) {
            cards[index].value = value
            if !comment.isEmpty { cards[index].comment = comment }
        } else {
            cards.append(HeaderCard(key: key, value: value, comment: comment))
        }
    }

    public mutating func addHistory(_ text: String) {
        cards.append(HeaderCard(key: "HISTORY", comment: text))
    }

    public mutating func addComment(_ text: String) {
        cards.append(HeaderCard(key: "COMMENT", comment: text))
    }

    public func makeIterator() -> IndexingIterator<[HeaderCard]> {
        cards.makeIterator()
    }

    private func index(of key: String) -> Int? {
        // Card keys are normalised when a card is made, so one normalisation of the query suffices.
        let wanted = HeaderCard.normalizedKey(key)
        return cards.firstIndex { $0.key == wanted }
    }
}

extension FITSHeader {
    /// Parses header card images (80 bytes each, up to END), as they stand in
    /// a file. Malformed cards give whatever cfitsio can make of them; a
    /// trailing partial card is ignored.
    public init(cardImages: [UInt8]) {
        var header = FITSHeader()
        if cardImages.count >= 80 {
            _ = exclusiveCFITSIO { header = HeaderParser.parse(records: cardImages) }
        }
        self = header
    }
}
