import Values
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

    /// Reads a size such as "16KiB", "4MiB", "1500", "32kb" (`SizeUnits`: tc's 1024-based units).
    public init(parsing text: String) throws(ValueParseError) {
        guard let literal = DecimalLiteral(text), !literal.negative else {
            throw ValueParseError(kind: "size", text: text, reason: SizeUnits.expected)
        }
        guard let unit = SizeUnits.unit(literal.unit) else {
            throw ValueParseError(kind: "size", text: text, reason: "unknown unit \"\(literal.unit)\"; \(SizeUnits.expected)")
        }
        guard let scaled = literal.scaled(by: unit.multiplier) else {
            throw ValueParseError(kind: "size", text: text, reason: "too large")
        }
        self.bytes = scaled / unit.divisor
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
