/// Values every layer shares, read by one grammar: the numbers people write with units
/// ("20ms", "4MiB", "1.5s"). No Foundation: the lowest layers use it too.
///
/// The units, decided once, following tc (iproute2) where tc has an answer:
/// - sizes: `b`; `k`/`kb`/`KiB`, `m`/`mb`/`MiB`, `g`/`gb`/`GiB` are all **1024-based** (tc's
///   `get_size`: "32kb" is 32 768 bytes), case-insensitive; `kbit`/`mbit`/`gbit` are 1024-based
///   bits (÷8). There is no 1000-based byte unit: "MB" means what tc means by it.
/// - durations: `ns`, `us`/`µs`, `ms`, `s`, `min`, `h` (also tc's `nsec`, `usec`, `msec`, `sec`).
///   `m` alone is refused: it reads as minutes to some and as milliseconds to others.

/// A decimal number with a unit suffix, read exactly (no floating point), e.g. "1.5" + "s".
public struct DecimalLiteral: Sendable {
    public var negative: Bool
    /// All digits, integer and fraction, as one integer: "1.25" gives 125.
    public var mantissa: UInt64
    /// Number of digits after the decimal point: "1.25" gives 2.
    public var fractionDigits: Int
    /// The suffix after the number, with surrounding spaces removed (may be empty).
    public var unit: String

    /// Reads `[+-]digits[.digits]unit`. Returns nil when there is no number at the start.
    public init?(_ text: String) {
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

    public var isZero: Bool { mantissa == 0 }

    /// mantissa × multiplier ÷ 10^fractionDigits, truncated toward zero; nil on overflow.
    public func scaled(by multiplier: UInt64) -> UInt64? {
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
    public func scalingIsExact(by multiplier: UInt64) -> Bool {
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
    public var doubleValue: Double {
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
    /// Without leading and trailing spaces and tabs.
    public func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}

/// The size units: (name, multiplier, divisor), names lowercased.
public enum SizeUnits {
    public static let table: [(name: String, multiplier: UInt64, divisor: UInt64)] = [
        ("", 1, 1), ("b", 1, 1),
        ("kib", 1 << 10, 1), ("ki", 1 << 10, 1), ("k", 1 << 10, 1), ("kb", 1 << 10, 1),
        ("mib", 1 << 20, 1), ("mi", 1 << 20, 1), ("m", 1 << 20, 1), ("mb", 1 << 20, 1),
        ("gib", 1 << 30, 1), ("gi", 1 << 30, 1), ("g", 1 << 30, 1), ("gb", 1 << 30, 1),
        ("kbit", 1 << 10, 8), ("mbit", 1 << 20, 8), ("gbit", 1 << 30, 8),
    ]

    public static let expected = "expected a number of bytes with an optional unit, e.g. \"1500\", \"16KiB\", \"4MiB\" (k, m, g, KB, MB, GB are 1024-based, as in tc)"

    /// The unit for a suffix (any letter case), or nil.
    public static func unit(_ suffix: String) -> (multiplier: UInt64, divisor: UInt64)? {
        let lower = suffix.lowercased()
        return table.first { $0.name == lower }.map { ($0.multiplier, $0.divisor) }
    }
}

/// The duration units, nanoseconds each, names lowercased.
public enum DurationUnits {
    public static let table: [(names: [String], nanoseconds: UInt64)] = [
        (["ns", "nsec", "nsecs"], 1),
        (["us", "µs", "usec", "usecs"], 1_000),
        (["ms", "msec", "msecs"], 1_000_000),
        (["s", "sec", "secs"], 1_000_000_000),
        (["min", "mins"], 60_000_000_000),
        (["h"], 3_600_000_000_000),
    ]

    public static let expected = "expected a number and a unit (ns, us, ms, s, min, h), e.g. \"20ms\", \"1.5s\", \"250us\", \"0\""

    /// Nanoseconds per unit for a suffix (any letter case), or why the suffix is refused.
    public static func unit(_ suffix: String) -> Result<UInt64, UnitRefusal> {
        let lower = suffix.lowercased()
        if lower == "m" {
            return .failure(UnitRefusal(reason: "\"m\" is ambiguous: write min for minutes or ms for milliseconds"))
        }
        guard let entry = table.first(where: { $0.names.contains(lower) }) else {
            return .failure(UnitRefusal(reason: "unknown unit \"\(suffix)\"; \(expected)"))
        }
        return .success(entry.nanoseconds)
    }
}

public struct UnitRefusal: Error, Sendable, Equatable {
    public var reason: String
}
