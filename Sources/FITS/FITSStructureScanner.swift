/// Walks the byte layout of a FITS file as it streams past — header blocks up to END, then the
/// data unit its structural keywords promise — without cfitsio and without holding the file.
///
/// Why not cfitsio: cfitsio decompresses a `.gz` wholly into memory before it reads a header, and
/// it computes data sizes from NAXISn without overflow checks. This scanner checks every
/// structural keyword (BITPIX, NAXIS, NAXISn, PCOUNT, GCOUNT) as a value before any arithmetic,
/// computes each data unit's size with overflow-checked multiplication, and so can judge a file of
/// any claimed size from a bounded buffer (one 2,880-byte block plus the headers it keeps).
///
/// Feed bytes with `consume`, in chunks of any size; data bytes can instead be passed over with
/// `skipData` when the caller can seek. `finish(totalBytes:)` gives the verdict. The headers of
/// the primary HDU and of the first HDU holding an image of two or more axes are kept as card
/// images (for classification); other headers are only searched for END.
public struct FITSStructureScanner {
    public static let blockSize: Int64 = 2880
    /// A header longer than this without END is refused (hostile input could otherwise make a
    /// reader search, and a keeper hold, gigabytes of cards). 1,000 blocks = 36,000 cards.
    public static let maxHeaderBlocks = 1000
    /// Largest NAXIS the standard allows.
    static let maxAxes: Int64 = 999

    /// What the scan learned: one entry per complete HDU.
    public struct Layout: Sendable {
        /// NAXISn of each HDU, fastest first ([] for no data), as the header states them.
        public var shapes: [[Int]] = []
        /// |BITPIX| / 8 × GCOUNT × (PCOUNT + ∏NAXISn) of each HDU, bytes, unpadded.
        public var dataBytes: [Int64] = []
        /// Card images (80 bytes each, through END) of the primary header.
        public var primaryCards: [UInt8] = []
        /// Card images of the first HDU after the primary with an image of two or more axes, if any.
        public var imageExtensionCards: [UInt8]?
        /// Bytes after the last HDU (whole blocks only; a partial block is refused).
        public var trailingBytes: Int64 = 0
        /// 1-based numbers of the HDUs holding a tile-compressed image (BINTABLE with ZIMAGE),
        /// whose tiles a checker must decompress.
        public var compressedImageHDUs: [Int] = []
    }

    private enum State {
        case header(cards: [UInt8], blocks: Int)
        case data(remaining: Int64)
        case boundary
        case trailing
    }

    public let path: String
    private var state: State = .header(cards: [], blocks: 0)
    private var block: [UInt8] = []
    private var offset: Int64 = 0
    private var currentHDUStart: Int64 = 0
    public private(set) var layout = Layout()

    public init(path: String) {
        self.path = path
        block.reserveCapacity(Int(Self.blockSize))
    }

    /// Bytes of the current data unit (with its padding) not yet seen; 0 outside a data unit.
    public var pendingDataBytes: Int64 {
        if case .data(let remaining) = state { return remaining }
        return 0
    }

    /// True once the bytes after the last HDU are not another HDU (special records): a caller
    /// that can seek need read no further.
    public var reachedTrailing: Bool {
        if case .trailing = state { return true }
        return false
    }

    /// Stream offset reached so far (bytes consumed or skipped).
    public var bytesSeen: Int64 { offset }

    /// Passes over `count` data bytes the caller will not read (it seeked past them).
    /// - Precondition: `count <= pendingDataBytes`.
    public mutating func skipData(_ count: Int64) {
        guard case .data(let remaining) = state, count > 0 else { return }
        let taken = min(count, remaining)
        offset += taken
        state = taken == remaining ? .boundary : .data(remaining: remaining - taken)
    }

    /// Takes the next bytes of the stream.
    public mutating func consume(_ bytes: UnsafeRawBufferPointer) throws(FITSError) {
        var index = 0
        while index < bytes.count {
            switch state {
            case .data(let remaining):
                let taken = Int(min(Int64(bytes.count - index), remaining))
                index += taken
                offset += Int64(taken)
                state = Int64(taken) == remaining ? .boundary : .data(remaining: remaining - Int64(taken))
            case .trailing:
                let rest = bytes.count - index
                layout.trailingBytes += Int64(rest)
                offset += Int64(rest)
                index = bytes.count
            case .boundary, .header:
                let wanted = Int(Self.blockSize) - block.count
                let taken = min(wanted, bytes.count - index)
                block.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + taken)]))
                index += taken
                offset += Int64(taken)
                if block.count == Int(Self.blockSize) {
                    try takeBlock()
                    block.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// The verdict once the stream has ended after `offset` bytes.
    public func finish() throws(FITSError) -> Layout {
        switch state {
        case .header(_, let blocks):
            if layout.shapes.isEmpty && blocks == 0 && block.isEmpty {
                throw fail(.truncated, "file is empty (0 bytes); a FITS file holds at least one 2,880-byte header block")
            }
            throw fail(.truncated, "header of HDU \(layout.shapes.count + 1) has no END card before the file ends after \(offset.grouped) bytes")
        case .data(let remaining):
            throw fail(.truncated, "data unit of HDU \(layout.shapes.count) needs \((offset + remaining).grouped) bytes, file ends after \(offset.grouped)")
        case .boundary:
            if !block.isEmpty {
                // A partial block after the last HDU: a second header cut short, or bytes that are not FITS.
                if block.starts(with: Array("XTENSION".utf8)) {
                    throw fail(.truncated, "header of HDU \(layout.shapes.count + 1) starts at byte \((offset - Int64(block.count)).grouped) but file ends after \(offset.grouped)")
                }
                throw fail(.damaged, "\(block.count.grouped) bytes after the last HDU (at byte \((offset - Int64(block.count)).grouped)) are not FITS blocks")
            }
            return layout
        case .trailing:
            return layout
        }
    }

    private mutating func takeBlock() throws(FITSError) {
        var cards: [UInt8]
        var blocks: Int
        switch state {
        case .boundary:
            let first = block.prefix(8)
            let expected = layout.shapes.isEmpty ? "SIMPLE  " : "XTENSION"
            guard first.elementsEqual(expected.utf8) else {
                if layout.shapes.isEmpty {
                    throw fail(.notFITS, "file starts with \"\(Self.shown(block.prefix(9)))\", not \"SIMPLE  =\"")
                }
                // Special records after the last HDU are allowed by the standard in whole blocks.
                layout.trailingBytes = Int64(block.count)
                state = .trailing
                return
            }
            currentHDUStart = offset - Self.blockSize
            cards = []; blocks = 0
        case .header(let c, let b):
            cards = c; blocks = b
        default:
            return
        }
        blocks += 1
        // Find END in this block; keep cards through it.
        var endCard: Int?
        for c in 0..<36 where block[c * 80..<(c * 80 + 8)].elementsEqual("END     ".utf8) {
            endCard = c
            break
        }
        if let endCard {
            cards.append(contentsOf: block[0..<((endCard + 1) * 80)])
            try headerComplete(cards)
        } else {
            guard blocks < Self.maxHeaderBlocks else {
                throw fail(.damaged, "header of HDU \(layout.shapes.count + 1) has no END card within \(Self.maxHeaderBlocks.grouped) blocks")
            }
            cards.append(contentsOf: block)
            state = .header(cards: cards, blocks: blocks)
        }
    }

    private mutating func headerComplete(_ cards: [UInt8]) throws(FITSError) {
        let hdu = layout.shapes.count + 1
        let isPrimary = hdu == 1
        var values: [String: Substring] = [:]
        // Structural keywords only; values are fixed-format integers or logicals left of any comment.
        for c in 0..<(cards.count / 80) {
            let image = cards[(c * 80)..<(c * 80 + 80)]
            guard image[image.startIndex + 8] == UInt8(ascii: "="), image[image.startIndex + 9] == UInt8(ascii: " ") else { continue }
            // Only B…, G…, N…, P… keys can be structural: skip the others before making strings (ingest speed).
            switch image[image.startIndex] {
            case UInt8(ascii: "B"), UInt8(ascii: "G"), UInt8(ascii: "N"), UInt8(ascii: "P"): break
            default: continue
            }
            let key = String(decoding: image.prefix(8), as: UTF8.self).trimmingBlanks()
            guard key == "BITPIX" || key == "GROUPS" || key == "PCOUNT" || key == "GCOUNT" || key.hasPrefix("NAXIS"),
                  values[key] == nil else { continue }
            let text = String(decoding: image.dropFirst(10), as: UTF8.self)
            let beforeComment = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            values[key] = Substring(String(beforeComment).trimmingBlanks())
        }
        func integer(_ key: String, default fallback: Int64? = nil) throws(FITSError) -> Int64 {
            guard let text = values[key] else {
                if let fallback { return fallback }
                throw fail(.damaged, "HDU \(hdu) lacks the mandatory keyword \(key)")
            }
            guard let value = Int64(text) else {
                throw fail(.damaged, "\(key) = \(text.prefix(30)) in HDU \(hdu) is not an integer")
            }
            return value
        }
        let bitpix = try integer("BITPIX")
        guard [8, 16, 32, 64, -32, -64].contains(bitpix) else {
            throw fail(.damaged, "BITPIX = \(bitpix) in HDU \(hdu) is not one of 8, 16, 32, 64, -32, -64")
        }
        let axisCount = try integer("NAXIS")
        guard (0...Self.maxAxes).contains(axisCount) else {
            throw fail(.damaged, "NAXIS = \(axisCount) in HDU \(hdu) is not between 0 and \(Self.maxAxes)")
        }
        var shape: [Int] = []
        for n in stride(from: 1, through: axisCount, by: 1) {
            let length = try integer("NAXIS\(n)")
            guard length >= 0 else { throw fail(.damaged, "NAXIS\(n) = \(length) in HDU \(hdu) is a negative axis length") }
            shape.append(Int(length))
        }
        let pcount = try integer("PCOUNT", default: isPrimary ? 0 : nil)
        let gcount = try integer("GCOUNT", default: isPrimary ? 1 : nil)
        guard pcount >= 0 else { throw fail(.damaged, "PCOUNT = \(pcount) in HDU \(hdu) is negative") }
        guard gcount >= 0 else { throw fail(.damaged, "GCOUNT = \(gcount) in HDU \(hdu) is negative") }
        // Random groups (primary, NAXIS1 = 0, GROUPS = T) leave NAXIS1 out of the product.
        let groups = isPrimary && values["GROUPS"] == "T" && shape.first == 0
        var elements: Int64 = shape.isEmpty ? 0 : 1
        for (i, length) in shape.enumerated() where !(groups && i == 0) {
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int64(length))
            guard !overflow else {
                throw fail(.damaged, "NAXIS1 × … × NAXIS\(shape.count) of HDU \(hdu) (\(shape.map(String.init).joined(separator: " × "))) overflows a 64-bit byte count")
            }
            elements = product
        }
        var bytes: Int64 = 0
        var paddedBytes: Int64 = 0
        if !shape.isEmpty || pcount > 0 {
            let (withHeap, o1) = elements.addingReportingOverflow(pcount)
            let (grouped, o2) = withHeap.multipliedReportingOverflow(by: gcount)
            let (total, o3) = grouped.multipliedReportingOverflow(by: abs(bitpix) / 8)
            let (padded, o4) = total.addingReportingOverflow(Self.blockSize - 1)
            guard !(o1 || o2 || o3 || o4) else {
                throw fail(.damaged, "the data unit of HDU \(hdu) (BITPIX \(bitpix), axes \(shape.map(String.init).joined(separator: " × ")), PCOUNT \(pcount), GCOUNT \(gcount)) overflows a 64-bit byte count")
            }
            bytes = total
            paddedBytes = padded / Self.blockSize * Self.blockSize
        }
        if !isPrimary, Self.xtension(cards) == "BINTABLE", Self.hasZImage(cards) {
            layout.compressedImageHDUs.append(hdu)
        }
        if isPrimary {
            layout.primaryCards = cards
        } else if layout.imageExtensionCards == nil, shape.count >= 2,
                  let kind = Self.xtension(cards), kind == "IMAGE" || (kind == "BINTABLE" && Self.hasZImage(cards)) {
            layout.imageExtensionCards = cards
        }
        layout.shapes.append(shape)
        layout.dataBytes.append(bytes)
        state = paddedBytes > 0 ? .data(remaining: paddedBytes) : .boundary
    }

    private static func xtension(_ cards: [UInt8]) -> String? {
        guard cards.count >= 80 else { return nil }
        let text = String(decoding: cards[10..<80], as: UTF8.self)
        return text.split(separator: "'").first.map { String($0).trimmingBlanks() }
    }

    private static func hasZImage(_ cards: [UInt8]) -> Bool {
        stride(from: 0, to: cards.count, by: 80).contains { cards[$0..<($0 + 8)].elementsEqual("ZIMAGE  ".utf8) }
    }

    static func shown<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        String(decoding: bytes.map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }, as: UTF8.self)
    }

    private func fail(_ kind: FITSError.Kind, _ detail: String) -> FITSError {
        FITSError(kind: kind, path: path, operation: "checking structure", detail: detail)
    }
}
