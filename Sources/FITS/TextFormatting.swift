/// Small text helpers shared by header parsing and error messages.

extension String {
    /// Removes leading and trailing ASCII blanks, the only padding FITS uses.
    func trimmingBlanks() -> String {
        var characters = Substring(self)
        while characters.first == " " { characters.removeFirst() }
        while characters.last == " " { characters.removeLast() }
        return String(characters)
    }

    /// Removes trailing ASCII blanks, which FITS defines as insignificant in string values.
    func droppingTrailingBlanks() -> String {
        var characters = Substring(self)
        while characters.last == " " { characters.removeLast() }
        return String(characters)
    }

    /// Text of a NUL-terminated C buffer filled by cfitsio.
    init(nulTerminated buffer: [CChar]) {
        self.init(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension BinaryInteger {
    /// Digits grouped by thousands with commas, independent of locale, for byte counts in messages.
    var grouped: String {
        let digits = String(self.magnitude)
        var result = ""
        for (offset, digit) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { result.append(",") }
            result.append(digit)
        }
        return self < 0 ? "-" + result : result
    }
}
