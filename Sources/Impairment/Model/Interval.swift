import Values
/// A length of time with nanosecond precision: a delay, a jitter, a slot length, a schedule time.
///
/// Signed so that a negative value written by a user survives parsing and is reported by
/// validation ("delay: -5ms is negative, expected 0 or more") instead of failing obscurely.
///
/// Text form (`Interval(parsing:)`, `description`, and the Codable form, which is the text):
/// a decimal number and a unit — `ns`, `us` (also `µs`, `usec`), `ms` (`msec`), `s` (`sec`,
/// `secs`), `min` — e.g. `"20ms"`, `"1.5s"`, `"250us"`, `"0"`. Units are case-insensitive like
/// tc's. A bare number other than 0 is refused: tc reads a bare number as microseconds for
/// `delay` but as nanoseconds for `slot`, so Faultline asks for the unit. Values are read exactly
/// (decimal, no floating point); digits finer than 1 ns are an error. Decoding also accepts an
/// integer (nanoseconds).
public struct Interval: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    public static let zero = Interval(nanoseconds: 0)
    public static func ns(_ v: Int64) -> Interval { Interval(nanoseconds: v) }
    public static func us(_ v: Int64) -> Interval { Interval(nanoseconds: v * 1_000) }
    public static func ms(_ v: Int64) -> Interval { Interval(nanoseconds: v * 1_000_000) }
    public static func seconds(_ v: Int64) -> Interval { Interval(nanoseconds: v * 1_000_000_000) }

    public static func < (a: Interval, b: Interval) -> Bool { a.nanoseconds < b.nanoseconds }
    public static func + (a: Interval, b: Interval) -> Interval { Interval(nanoseconds: a.nanoseconds &+ b.nanoseconds) }
    public static func - (a: Interval, b: Interval) -> Interval { Interval(nanoseconds: a.nanoseconds &- b.nanoseconds) }

    /// Whole microseconds, truncated toward zero (the unit tc works in for netem delay/jitter).
    public var microseconds: Int64 { nanoseconds / 1_000 }

    /// The same length as a Swift `Duration`.
    public var duration: Duration { .nanoseconds(nanoseconds) }

    /// From a Swift `Duration`, truncated to whole nanoseconds.
    public init(_ duration: Duration) {
        let (s, atto) = duration.components
        self.nanoseconds = s &* 1_000_000_000 &+ atto / 1_000_000_000
    }

    /// Reads a duration such as "20ms", "1.5s", "250us", "0" (see the type's documentation).
    public init(parsing text: String) throws(ValueParseError) {
        let example = DurationUnits.expected
        guard let literal = DecimalLiteral(text) else {
            throw ValueParseError(kind: "duration", text: text, reason: example)
        }
        if literal.unit.isEmpty {
            guard literal.isZero else {
                throw ValueParseError(kind: "duration", text: text,
                    reason: "a unit is needed (tc reads a bare number as microseconds for delay but nanoseconds for slot); \(example)")
            }
            self.nanoseconds = 0
            return
        }
        let perUnit: UInt64
        switch DurationUnits.unit(literal.unit) {
        case .success(let ns): perUnit = ns
        case .failure(let refusal): throw ValueParseError(kind: "duration", text: text, reason: refusal.reason)
        }
        guard literal.scalingIsExact(by: perUnit) else {
            throw ValueParseError(kind: "duration", text: text, reason: "finer than 1ns; \(example)")
        }
        guard let magnitude = literal.scaled(by: perUnit), magnitude <= UInt64(Int64.max) else {
            throw ValueParseError(kind: "duration", text: text, reason: "too large (at most about 292 years)")
        }
        self.nanoseconds = literal.negative ? -Int64(magnitude) : Int64(magnitude)
    }

    /// Shortest exact text: "20ms", "1.5s", "250us", "7ns", "0".
    public var description: String {
        if nanoseconds == 0 { return "0" }
        let sign = nanoseconds < 0 ? "-" : ""
        let m = nanoseconds.magnitude
        for (unit, scale) in [("s", UInt64(1_000_000_000)), ("ms", 1_000_000), ("us", 1_000)] where m >= scale {
            let whole = m / scale, rest = m % scale
            if rest == 0 { return "\(sign)\(whole)\(unit)" }
            // Exact decimal if the fraction is short (at most 3 digits), else fall through to a smaller unit.
            let digits = String(scale).count - 1
            var frac = String(rest)
            frac = String(repeating: "0", count: digits - frac.count) + frac
            while frac.hasSuffix("0") { frac.removeLast() }
            if frac.count <= 3 { return "\(sign)\(whole).\(frac)\(unit)" }
        }
        return "\(sign)\(m)ns"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let text = try? c.decode(String.self) {
            do { try self.init(parsing: text) } catch {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: error.description)
            }
        } else {
            self.init(nanoseconds: try c.decode(Int64.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}
