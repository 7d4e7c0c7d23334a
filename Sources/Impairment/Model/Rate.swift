import Values
/// A data rate in bits per second.
///
/// Text form follows tc (iproute2's `get_rate64`), suffixes case-insensitive:
///
/// | suffix | meaning | | suffix | meaning |
/// |---|---|---|---|---|
/// | none, `bit` | bits/s | | `Bps` | bytes/s (×8) |
/// | `kbit` | 1 000 bit/s | | `KBps` | 1 000 bytes/s |
/// | `mbit` | 10⁶ bit/s | | `MBps` | 10⁶ bytes/s |
/// | `gbit` | 10⁹ bit/s | | `GBps` | 10⁹ bytes/s |
/// | `tbit` | 10¹² bit/s | | `TBps` | 10¹² bytes/s |
/// | `kibit`, `mibit`, `gibit`, `tibit` | 2¹⁰, 2²⁰, 2³⁰, 2⁴⁰ bit/s | | `KiBps` … `TiBps` | 2¹⁰… bytes/s |
///
/// Because the match is case-insensitive, `1Mbps` means what tc means by it: one mega**byte**
/// per second (8 000 000 bit/s), not one megabit. Write `1mbit` for one megabit per second.
/// Decimal fractions are read exactly ("1.5mbit" = 1 500 000 bit/s). Decoding also accepts an
/// integer (bits/s); encoding writes the text form.
///
/// The kernel works in bytes per second: engines send `bitsPerSecond / 8`, truncated, as tc does
/// (so "1001bit" reaches the kernel as 125 bytes/s).
public struct Rate: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var bitsPerSecond: UInt64

    public init(bitsPerSecond: UInt64) { self.bitsPerSecond = bitsPerSecond }
    public static func kbit(_ v: UInt64) -> Rate { Rate(bitsPerSecond: v * 1_000) }
    public static func mbit(_ v: UInt64) -> Rate { Rate(bitsPerSecond: v * 1_000_000) }
    public static func gbit(_ v: UInt64) -> Rate { Rate(bitsPerSecond: v * 1_000_000_000) }

    /// Bytes per second as the kernel takes them (bits ÷ 8, truncated like tc).
    public var bytesPerSecond: UInt64 { bitsPerSecond / 8 }

    public static func < (a: Rate, b: Rate) -> Bool { a.bitsPerSecond < b.bitsPerSecond }

    private static let suffixes: [(String, UInt64)] = [
        ("bit", 1), ("kibit", 1 << 10), ("kbit", 1_000), ("mibit", 1 << 20), ("mbit", 1_000_000),
        ("gibit", 1 << 30), ("gbit", 1_000_000_000), ("tibit", 1 << 40), ("tbit", 1_000_000_000_000),
        ("bps", 8), ("kibps", 8 << 10), ("kbps", 8_000), ("mibps", 8 << 20), ("mbps", 8_000_000),
        ("gibps", 8 << 30), ("gbps", 8_000_000_000), ("tibps", 8 << 40), ("tbps", 8_000_000_000_000),
    ]

    /// Reads a rate such as "10mbit", "1gbit", "500kbit", "1MBps" (see the type's documentation).
    public init(parsing text: String) throws(ValueParseError) {
        let example = "expected a number and a unit like tc's: \"500kbit\", \"10mbit\", \"1gbit\" (bits/s) or \"125KBps\" (bytes/s)"
        guard let literal = DecimalLiteral(text), !literal.negative else {
            throw ValueParseError(kind: "rate", text: text, reason: example)
        }
        let scale: UInt64
        if literal.unit.isEmpty {
            scale = 1
        } else if let s = Self.suffixes.first(where: { $0.0 == literal.unit.lowercased() }) {
            scale = s.1
        } else {
            throw ValueParseError(kind: "rate", text: text, reason: "unknown unit \"\(literal.unit)\"; \(example)")
        }
        guard let bits = literal.scaled(by: scale) else {
            throw ValueParseError(kind: "rate", text: text, reason: "too large")
        }
        self.bitsPerSecond = bits
    }

    /// "10mbit", "1500kbit", "8bit": the largest decimal unit that divides exactly.
    public var description: String {
        for (unit, scale) in [("tbit", UInt64(1_000_000_000_000)), ("gbit", 1_000_000_000), ("mbit", 1_000_000), ("kbit", 1_000)]
        where bitsPerSecond >= scale && bitsPerSecond % scale == 0 {
            return "\(bitsPerSecond / scale)\(unit)"
        }
        return "\(bitsPerSecond)bit"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            do { try self.init(parsing: text) } catch {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: error.description)
            }
        } else {
            self.init(bitsPerSecond: try c.decode(UInt64.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
