/// Why a human-written value (a duration, size, address or port) could not be read.
///
/// `description` is one sentence for the user, e.g.
/// `duration "20xs": unknown unit "xs"; expected ns, us, ms, s or m (e.g. "100ms", "1.5s", "250us", "0")`.
/// The command line prefixes it with the flag name.
public struct PeerValueError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What was being read: "duration", "size", "address", "port".
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

/// A non-negative decimal number with a unit suffix, read exactly (no floating point):
/// "1.5s" gives mantissa 15, fractionDigits 1, unit "s".
struct UnitLiteral {
    var mantissa: UInt64
    var fractionDigits: Int
    var unit: Substring

    init?(_ text: Substring) {
        var mantissa: UInt64 = 0
        var fractionDigits = 0
        var sawDigit = false
        var sawPoint = false
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c.isASCII, let digit = c.wholeNumberValue {
                let (times10, o1) = mantissa.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(digit))
                if o1 || o2 { return nil }
                mantissa = sum
                if sawPoint { fractionDigits += 1 }
                sawDigit = true
            } else if c == ".", !sawPoint {
                sawPoint = true
            } else {
                break
            }
            index = text.index(after: index)
        }
        guard sawDigit else { return nil }
        self.mantissa = mantissa
        self.fractionDigits = fractionDigits
        self.unit = text[index...]
    }

    /// mantissa × factor / 10^fractionDigits, if that is a whole number that fits.
    func scaled(by factor: UInt64) -> UInt64?? {
        let (product, overflow) = mantissa.multipliedReportingOverflow(by: factor)
        if overflow { return .some(nil) }
        var divisor: UInt64 = 1
        for _ in 0..<fractionDigits {
            let (next, o) = divisor.multipliedReportingOverflow(by: 10)
            if o { return .some(nil) }
            divisor = next
        }
        if product % divisor != 0 { return nil }
        return .some(product / divisor)
    }
}

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

    static let units: [(String, UInt64)] = [
        ("ns", 1), ("us", 1_000), ("µs", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000),
        ("m", 60_000_000_000), ("min", 60_000_000_000), ("h", 3_600_000_000_000),
    ]
    static let expected = "expected a number and one of ns, us, ms, s, m, h (e.g. \"100ms\", \"1.5s\", \"250us\", \"0\")"

    /// Reads a duration; a bare number is accepted only for 0.
    public init(parsing text: String) throws(PeerValueError) {
        let body = trimmed(text)
        guard let literal = UnitLiteral(body) else {
            throw PeerValueError(kind: "duration", text: text, reason: body.hasPrefix("-") ? "must not be negative" : Self.expected)
        }
        let unit = String(literal.unit)
        if unit.isEmpty {
            guard literal.mantissa == 0 else {
                throw PeerValueError(kind: "duration", text: text, reason: "a unit is required; " + Self.expected)
            }
            self.nanoseconds = 0
            return
        }
        guard let factor = Self.units.first(where: { $0.0 == unit })?.1 else {
            throw PeerValueError(kind: "duration", text: text, reason: "unknown unit \"\(unit)\"; " + Self.expected)
        }
        switch literal.scaled(by: factor) {
        case .none:
            throw PeerValueError(kind: "duration", text: text, reason: "is not a whole number of nanoseconds")
        case .some(.none):
            throw PeerValueError(kind: "duration", text: text, reason: "is too large")
        case .some(.some(let value)):
            self.nanoseconds = value
        }
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

    static let units: [(String, UInt64)] = [
        ("", 1), ("B", 1), ("b", 1),
        ("KiB", 1 << 10), ("Ki", 1 << 10), ("K", 1 << 10), ("k", 1 << 10),
        ("MiB", 1 << 20), ("Mi", 1 << 20), ("M", 1 << 20),
        ("GiB", 1 << 30), ("Gi", 1 << 30), ("G", 1 << 30),
        ("kB", 1_000), ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000),
    ]
    static let expected = "expected a number with an optional unit B, KiB, MiB, GiB (1024-based; also K, M, G) or kB, MB, GB (1000-based), e.g. \"1500\", \"16KiB\", \"4MiB\""

    public init(parsing text: String) throws(PeerValueError) {
        let body = trimmed(text)
        guard let literal = UnitLiteral(body) else {
            throw PeerValueError(kind: "size", text: text, reason: body.hasPrefix("-") ? "must not be negative" : Self.expected)
        }
        let unit = String(literal.unit).trimmingLeadingSpaces
        guard let factor = Self.units.first(where: { $0.0 == unit })?.1 else {
            throw PeerValueError(kind: "size", text: text, reason: "unknown unit \"\(unit)\"; " + Self.expected)
        }
        switch literal.scaled(by: factor) {
        case .none:
            throw PeerValueError(kind: "size", text: text, reason: "is not a whole number of bytes")
        case .some(.none):
            throw PeerValueError(kind: "size", text: text, reason: "is too large")
        case .some(.some(let value)):
            self.bytes = value
        }
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
    public init(parsing text: String) throws(PeerValueError) {
        let body = String(trimmed(text))
        let host: String
        let portText: Substring
        if body.hasPrefix("[") {
            guard let close = body.firstIndex(of: "]") else {
                throw PeerValueError(kind: "address", text: text, reason: "missing \"]\" after the IPv6 address; expected \"[fd00::2]:9000\"")
            }
            host = String(body[body.index(after: body.startIndex)..<close])
            let rest = body[body.index(after: close)...]
            guard rest.hasPrefix(":") else {
                throw PeerValueError(kind: "address", text: text, reason: "expected \":PORT\" after \"]\", e.g. \"[fd00::2]:9000\"")
            }
            portText = rest.dropFirst()
        } else {
            guard let colon = body.lastIndex(of: ":") else {
                throw PeerValueError(kind: "address", text: text, reason: "expected HOST:PORT, e.g. \"198.18.2.2:9000\" or \"[fd00::2]:9000\"")
            }
            if body[..<colon].contains(":") {
                throw PeerValueError(kind: "address", text: text, reason: "an IPv6 address needs brackets: \"[\(body[..<colon])]:\(body[body.index(after: colon)...])\"")
            }
            host = String(body[..<colon])
            portText = body[body.index(after: colon)...]
        }
        guard !host.isEmpty else {
            throw PeerValueError(kind: "address", text: text, reason: "the host is empty; expected HOST:PORT")
        }
        self.host = host
        self.port = try Self.port(String(portText), in: text)
    }

    /// Reads a TCP port, 1–65535.
    public static func port(_ text: String, in whole: String? = nil) throws(PeerValueError) -> UInt16 {
        guard let value = UInt16(text), value > 0 else {
            throw PeerValueError(kind: "port", text: whole ?? text, reason: "expected a port number from 1 to 65535")
        }
        return value
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
