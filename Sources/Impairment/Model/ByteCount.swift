/// A size in bytes (a queue limit, a burst, a slot's byte budget).
///
/// Text form: a decimal number and an optional unit, case-insensitive.
/// - IEC units: `KiB`, `MiB`, `GiB` (1024-based), e.g. "16KiB", "4MiB".
/// - tc's units (iproute2 `get_size`): `b` = bytes; `k`/`kb`, `m`/`mb`, `g`/`gb` are **1024-based**
///   (tc's "32kb" is 32 768 bytes); `kbit`, `mbit`, `gbit` are 1024-based bits (÷8).
/// - No unit: bytes ("1500").
/// Fractions are read exactly and truncated to whole bytes ("1.5k" = 1536). Decoding also accepts
/// an integer (bytes); encoding writes the text form.
public struct ByteCount: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }
    public static func kib(_ v: UInt64) -> ByteCount { ByteCount(bytes: v << 10) }
    public static func mib(_ v: UInt64) -> ByteCount { ByteCount(bytes: v << 20) }

    public static func < (a: ByteCount, b: ByteCount) -> Bool { a.bytes < b.bytes }

    private static let units: [(String, UInt64, UInt64)] = [  // (unit, multiplier, divisor)
        ("", 1, 1), ("b", 1, 1),
        ("kib", 1 << 10, 1), ("mib", 1 << 20, 1), ("gib", 1 << 30, 1),
        ("k", 1 << 10, 1), ("kb", 1 << 10, 1), ("m", 1 << 20, 1), ("mb", 1 << 20, 1),
        ("g", 1 << 30, 1), ("gb", 1 << 30, 1),
        ("kbit", 1 << 10, 8), ("mbit", 1 << 20, 8), ("gbit", 1 << 30, 8),
    ]

    /// Reads a size such as "16KiB", "4MiB", "1500", "32kb" (see the type's documentation).
    public init(parsing text: String) throws(ValueParseError) {
        let example = "expected a number of bytes with an optional unit, e.g. \"1500\", \"16KiB\", \"4MiB\""
        guard let literal = DecimalLiteral(text), !literal.negative else {
            throw ValueParseError(kind: "size", text: text, reason: example)
        }
        guard let unit = Self.units.first(where: { $0.0 == literal.unit.lowercased() }) else {
            throw ValueParseError(kind: "size", text: text, reason: "unknown unit \"\(literal.unit)\"; \(example)")
        }
        guard let scaled = literal.scaled(by: unit.1) else {
            throw ValueParseError(kind: "size", text: text, reason: "too large")
        }
        self.bytes = scaled / unit.2
    }

    /// "1500", "16KiB", "4MiB": the largest binary unit that divides exactly.
    public var description: String {
        for (unit, shift) in [("GiB", UInt64(30)), ("MiB", 20), ("KiB", 10)]
        where bytes >= (1 << shift) && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return "\(bytes)"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let n = try? c.decode(UInt64.self) {
            self.init(bytes: n)
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
