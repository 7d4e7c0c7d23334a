import Values
private func trimmed(_ text: String) -> Substring {
    var s = Substring(text)
    while let first = s.first, first == " " || first == "\t" { s = s.dropFirst() }
    while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
    return s
}

/// A span of time in nanoseconds: "100ms", "1.5s", "250us", "2m", "0".
public struct PeerDuration: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }
    public static func milliseconds(_ value: UInt64) -> PeerDuration { PeerDuration(nanoseconds: value * 1_000_000) }
    public static func seconds(_ value: UInt64) -> PeerDuration { PeerDuration(nanoseconds: value * 1_000_000_000) }
    public static let zero = PeerDuration(nanoseconds: 0)

    /// Reads a duration (the shared grammar: `DurationUnits`); a bare number only for 0.
    public init(parsing text: String) throws(ValueParseError) {
        guard let literal = DecimalLiteral(text), !literal.negative else {
            throw ValueParseError(kind: "duration", text: text, reason: trimmed(text).hasPrefix("-") ? "must not be negative" : DurationUnits.expected)
        }
        if literal.unit.isEmpty {
            guard literal.isZero else {
                throw ValueParseError(kind: "duration", text: text, reason: "a unit is required; " + DurationUnits.expected)
            }
            self.nanoseconds = 0
            return
        }
        let factor: UInt64
        switch DurationUnits.unit(literal.unit) {
        case .success(let ns): factor = ns
        case .failure(let refusal): throw ValueParseError(kind: "duration", text: text, reason: refusal.reason)
        }
        guard literal.scalingIsExact(by: factor) else {
            throw ValueParseError(kind: "duration", text: text, reason: "is not a whole number of nanoseconds")
        }
        guard let value = literal.scaled(by: factor) else {
            throw ValueParseError(kind: "duration", text: text, reason: "is too large")
        }
        self.nanoseconds = value
    }

    public static func < (lhs: PeerDuration, rhs: PeerDuration) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// The shortest exact spelling: "1.5s", "250us", "40ms", "0".
    public var description: String {
        if nanoseconds == 0 { return "0" }
        for (unit, factor) in [("s", UInt64(1_000_000_000)), ("ms", 1_000_000), ("us", 1_000)] where nanoseconds >= factor {
            let whole = nanoseconds / factor
            var fraction = nanoseconds % factor
            if fraction == 0 { return "\(whole)\(unit)" }
            // Up to three decimals, exactly, else try the next smaller unit.
            var digits = ""
            var scale = factor
            for _ in 0..<3 {
                scale /= 10
                digits.append(Character(String(fraction / scale)))
                fraction %= scale
                if fraction == 0 { break }
            }
            if fraction == 0 { return "\(whole).\(digits)\(unit)" }
        }
        return "\(nanoseconds)ns"
    }
}

/// A number of bytes: "1500", "16KiB", "4MiB", "1.5MB", "64k".
/// Binary units (KiB, MiB, GiB; also K, M, G) are powers of 1024; decimal ones (kB, KB, MB, GB) powers of 1000.
public struct ByteSize: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var bytes: UInt64

    public init(bytes: UInt64) { self.bytes = bytes }

    /// Reads a size (the shared grammar: `SizeUnits`, tc's 1024-based units); whole bytes only.
    public init(parsing text: String) throws(ValueParseError) {
        guard let literal = DecimalLiteral(text), !literal.negative else {
            throw ValueParseError(kind: "size", text: text, reason: trimmed(text).hasPrefix("-") ? "must not be negative" : SizeUnits.expected)
        }
        guard let unit = SizeUnits.unit(literal.unit) else {
            throw ValueParseError(kind: "size", text: text, reason: "unknown unit \"\(literal.unit)\"; " + SizeUnits.expected)
        }
        guard let scaled = literal.scaled(by: unit.multiplier) else {
            throw ValueParseError(kind: "size", text: text, reason: "is too large")
        }
        guard literal.scalingIsExact(by: unit.multiplier), scaled % unit.divisor == 0 else {
            throw ValueParseError(kind: "size", text: text, reason: "is not a whole number of bytes")
        }
        self.bytes = scaled / unit.divisor
    }

    public static func < (lhs: ByteSize, rhs: ByteSize) -> Bool { lhs.bytes < rhs.bytes }

    public var description: String {
        if bytes >= 1 << 30, bytes % (1 << 30) == 0 { return "\(bytes >> 30)GiB" }
        if bytes >= 1 << 20, bytes % (1 << 20) == 0 { return "\(bytes >> 20)MiB" }
        if bytes >= 1 << 10, bytes % (1 << 10) == 0 { return "\(bytes >> 10)KiB" }
        return "\(bytes)"
    }
}

extension String {
    var trimmingLeadingSpaces: String {
        var s = Substring(self)
        while let first = s.first, first == " " { s = s.dropFirst() }
        return String(s)
    }
}

/// "HOST:PORT" as written: an IPv4 address, a bracketed IPv6 address or a host name, and a port.
public struct PeerEndpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Reads "198.18.2.2:9000", "[fd00:fa17:2::2]:9000" or "server:9000".
    public init(parsing text: String) throws(ValueParseError) {
        let body = String(trimmed(text))
        let host: String
        let portText: Substring
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else {
                throw ValueParseError(kind: "address", text: text, reason: "missing \"]\" after the IPv6 address; expected \"[fd00::2]:9000\"")
            }
            host = String(body[body.index(after: body.startIndex)..<close])
            let rest = body[body.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw ValueParseError(kind: "address", text: text, reason: "expected \":PORT\" after \"]\", e.g. \"[fd00::2]:9000\"")
            }
            portText = rest.dropFirst()
        } else {
            guard let colon = body.lastIndex(of: ":") else {
                throw ValueParseError(kind: "address", text: text, reason: "expected HOST:PORT, e.g. \"198.18.2.2:9000\" or \"[fd00::2]:9000\"")
            }
            if body[..<colon].contains(":") {
                throw ValueParseError(kind: "address", text: text, reason: "an IPv6 address needs brackets: \"[\(body[..<colon])]:\(body[body.index(after: colon)...])\"")
            }
            host = String(body[..<colon])
            portText = body[body.index(after: colon)...]
        }
        guard !host.isEmpty else {
            throw ValueParseError(kind: "address", text: text, reason: "the host is empty; expected HOST:PORT")
        }
        self.host = host
        self.port = try Self.port(String(portText), in: text)
    }

    /// Reads a TCP port, 1–65535.
    public static func port(_ text: String, in whole: String? = nil) throws(ValueParseError) -> UInt16 {
        guard let value = UInt16(text), value > 0 else {
            throw ValueParseError(kind: "port", text: whole ?? text, reason: "expected a port number from 1 to 65535")
        }
        return value
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
