/// Text made safe for a one-line-per-event log: a file name may hold a newline, a carriage
/// return or terminal escapes, and written as is it would forge log lines or drive the
/// reader's terminal. Control characters (C0, DEL, C1) become `\n`, `\r`, `\t` or `\u{XX}`;
/// everything else, non-ASCII letters included, is kept.
public enum LogText {
    public static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: isControl) else { return text }
        var result = ""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            case _ where isControl(scalar): result += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result
    }

    static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
    }
}
