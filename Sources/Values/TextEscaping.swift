/// Text inside other text, escaped once for every writer: JSON string literals (findings,
/// event logs, result lines, scenarios built in Swift) and markup (JUnit XML, HTML, SVG).
public enum JSONText {
    /// `text` as a JSON string literal, quotes included (RFC 8259: `"`, `\` and control
    /// characters escaped; everything else as is, UTF-8).
    public static func quoted(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count + 2)
        quote(text, into: &out)
        return out
    }

    /// Appends `text` as a JSON string literal to `out`.
    public static func quote(_ text: String, into out: inout String) {
        out += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

public enum MarkupText {
    /// `text` for XML/HTML/SVG content and attribute values: `& < > " '` as entities; control
    /// characters XML 1.0 forbids become `replacement` (newline, tab and carriage return stay).
    public static func escaped(_ text: String, replacement: String = " ") -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                if scalar.value < 0x20 && scalar != "\n" && scalar != "\t" && scalar != "\r" {
                    out += replacement
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }
}
