import Values
/// A probability or a correlation, written in percent.
///
/// Stored as the percent value as written (`1.5` for "1.5%"), so the kernel value is computed the
/// way tc computes it: `rint(percent / 100 × UINT32_MAX)` (see `netemScaled`). Valid values are
/// 0…100; parsing accepts anything numeric so that validation can name the key and the range
/// ("loss: 150% is out of range, expected 0%–100%").
///
/// Text form: "1%", "0.5%", "100%"; as in tc, a bare number is also percent ("25" = 25%).
/// Decoding also accepts a JSON/YAML number (percent).
public struct Percentage: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var percent: Double

    public init(_ percent: Double) { self.percent = percent }

    public static let zero = Percentage(0)
    public static let hundred = Percentage(100)

    /// 0…1
    public var fraction: Double { percent / 100 }

    public var isInRange: Bool { percent >= 0 && percent <= 100 }

    /// The 32-bit fixed-point value netem uses (0 = never, UINT32_MAX = always), rounded like tc's
    /// `set_percent`: `rint(percent / 100. * UINT32_MAX)`. Out-of-range values are clamped.
    public var netemScaled: UInt32 {
        let v = (percent / 100.0 * Double(UInt32.max)).rounded(.toNearestOrEven)
        if !(v > 0) { return 0 }
        if v >= Double(UInt32.max) { return UInt32.max }
        return UInt32(v)
    }

    /// The value back from netem's 32-bit fixed point.
    public init(netemScaled raw: UInt32) { self.percent = Double(raw) / Double(UInt32.max) * 100 }

    /// 1 − p (for the Gilbert–Elliott defaults tc uses).
    public var complement: Percentage { Percentage(100 - percent) }

    public static func < (a: Percentage, b: Percentage) -> Bool { a.percent < b.percent }

    /// Reads "1%", "0.5%", "25" (see the type's documentation).
    public init(parsing text: String) throws(ValueParseError) {
        let example = "expected a percentage such as \"1%\", \"0.5%\" or \"100%\""
        guard let literal = DecimalLiteral(text) else {
            throw ValueParseError(kind: "percentage", text: text, reason: example)
        }
        guard literal.unit.isEmpty || literal.unit == "%" else {
            throw ValueParseError(kind: "percentage", text: text, reason: "unexpected \"\(literal.unit)\"; \(example)")
        }
        self.percent = literal.doubleValue
    }

    /// "1%", "0.5%", "33.333333%".
    public var description: String {
        if percent == percent.rounded(), abs(percent) < 1e15 { return "\(Int64(percent))%" }
        return "\(percent)%"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(Double.self) {
            self.init(n)
        } else {
            let text = try c.decode(String.self)
            do { try self.init(parsing: text) } catch {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: error.description)
            }
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
