/// Why a human-written value (a duration, rate, size or percentage) could not be read.
///
/// `description` is a complete sentence for the user, for example
/// `duration "20xs": unknown unit "xs"; expected ns, us, ms or s (e.g. "20ms", "1.5s", "250us", "0")`.
/// The scenario layer prefixes it with file:line:column; the CLI with the flag name.
public struct ValueParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being read: "duration", "rate", "size", "percentage", "count", "link", "address", "port".
    public var kind: String
    /// The text as given.
    public var text: String
    /// What is wrong and what was expected.
    public var reason: String

    public init(kind: String, text: String, reason: String) {
        self.kind = kind
        self.text = text
        self.reason = reason
    }

    public var description: String { "\(kind) \"\(text)\": \(reason)" }
}

/// A decimal number with a unit suffix, read exactly (no floating point), e.g. "1.5" + "s".
struct DecimalLiteral {
    var negative: Bool
    /// All digits, integer and fraction, as one integer: "1.25" gives 125.
    var mantissa: UInt64
    /// Number of digits after the decimal point: "1.25" gives 2.
    var fractionDigits: Int
    /// The suffix after the number, with surrounding spaces removed (may be empty).
    var unit: String

    /// Reads `[+-]digits[.digits]unit`. Returns nil when there is no number at the start.
    init?(_ text: String) {
        let trimmed = text.trimmingSpaces()
        var chars = Substring(trimmed)
        negative = false
        if let first = chars.first, first == "-" || first == "+" {
            negative = first == "-"
            chars = chars.dropFirst()
        }
        var mantissa: UInt64 = 0
        var fractionDigits = 0
        var sawDigit = false
        var sawPoint = false
        var index = chars.startIndex
        while index < chars.endIndex {
            let c = chars[index]
            if let digit = c.wholeNumberValue, c.isASCII {
                let (times10, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
                if o1 || o2 {
                    // Too many digits: only fraction digits may be dropped (truncation).
                    if !sawPoint { return nil }
                } else {
                    mantissa = sum
                    if sawPoint { fractionDigits += 1 }
                }
                sawDigit = true
            } else if c == ".", !sawPoint {
                sawPoint = true
            } else {
                break
            }
            index = chars.index(after: index)
        }
        guard sawDigit else { return nil }
        self.mantissa = mantissa
        self.fractionDigits = fractionDigits
        self.unit = String(chars[index...]).trimmingSpaces()
    }

    var isZero: Bool { mantissa == 0 }

    /// mantissa × multiplier ÷ 10^fractionDigits, truncated toward zero; nil on overflow.
    func scaled(by multiplier: UInt64) -> UInt64? {
        var divisor: UInt64 = 1
        for _ in 0..<fractionDigits {
            let (d, o) = divisor.multipliedReportingOverflow(by: 10)
            if o { return 0 }  // more than 19 fraction digits: the value is below one unit
            divisor = d
        }
        let wide = mantissa.multipliedFullWidth(by: multiplier)
        if wide.high >= divisor { return nil }
        return divisor.dividingFullWidth(wide).quotient
    }

    /// Whether scaling by `multiplier` loses a remainder (e.g. "1.5ns").
    func scalingIsExact(by multiplier: UInt64) -> Bool {
        var divisor: UInt64 = 1
        for _ in 0..<fractionDigits {
            let (d, o) = divisor.multipliedReportingOverflow(by: 10)
            if o { return false }
            divisor = d
        }
        let wide = mantissa.multipliedFullWidth(by: multiplier)
        if wide.high >= divisor { return true }
        return divisor.dividingFullWidth(wide).remainder == 0
    }

    /// The value as a Double, as C's strtod would read the same digits.
    var doubleValue: Double {
        var s = negative ? "-" : ""
        var digits = String(mantissa)
        if fractionDigits > 0 {
            if digits.count <= fractionDigits {
                digits = String(repeating: "0", count: fractionDigits - digits.count + 1) + digits
            }
            let split = digits.index(digits.endIndex, offsetBy: -fractionDigits)
            digits = digits[..<split] + "." + digits[split...]
        }
        s += digits
        return Double(s) ?? .nan
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
