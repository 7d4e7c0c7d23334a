/// An address with a prefix length: a network ("198.18.0.0/15"), an interface address
/// ("198.18.9.1/24", host bits kept), or one host ("fd00::1/128").
public struct IPPrefix: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: UInt8

    /// `prefixLength` is not checked against the family's width; the parsers check it.
    @inlinable
    public init(address: IPAddress, prefixLength: UInt8) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// The prefix holding just `address` (/32 or /128).
    public init(host address: IPAddress) {
        self.init(address: address, prefixLength: UInt8(address.bitWidth))
    }

    /// Reads "198.18.0.0/24" or "fd00::/64"; a bare address is one host (/32, /128). Nil when
    /// the address or the length (decimal, at most the family's width) is invalid.
    public init?(_ text: String) {
        guard let prefix = try? IPPrefix(parsing: text) else { return nil }
        self = prefix
    }

    /// As `init?(_:)`, saying what is wrong.
    public init(parsing text: String) throws(ValueParseError) {
        let trimmed = Substring(text.trimmingSpaces())
        var addressText = trimmed
        var length: UInt8?
        if let slash = trimmed.firstIndex(of: "/") {
            let digits = trimmed[trimmed.index(after: slash)...]
            guard !digits.isEmpty, digits.utf8.count <= 3, digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let value = UInt8(digits) else {
                throw ValueParseError(kind: "address", text: text, reason: "prefix length after \"/\" must be a number")
            }
            length = value
            addressText = trimmed[..<slash]
        }
        guard let address = IPAddress(addressText) else {
            throw ValueParseError(kind: "address", text: text, reason: "expected an IPv4 or IPv6 address, e.g. 198.18.0.1 or fd00::1")
        }
        let width = UInt8(address.bitWidth)
        if let length, length > width {
            throw ValueParseError(kind: "address", text: text, reason: "prefix length \(length) is larger than \(width)")
        }
        self.init(address: address, prefixLength: length ?? width)
    }

    public var family: IPAddress.Family { address.family }

    /// Whether the prefix holds one address (/32 for IPv4, /128 for IPv6).
    public var isHost: Bool { Int(prefixLength) == address.bitWidth }

    /// The prefix with its host bits cleared ("198.18.9.1/24" → "198.18.9.0/24").
    public var network: IPPrefix {
        IPPrefix(address: address.masked(toPrefixLength: Int(prefixLength)), prefixLength: prefixLength)
    }

    /// Whether `other` lies inside the prefix (same family, same first `prefixLength` bits).
    @inlinable
    public func contains(_ other: IPAddress) -> Bool {
        guard other.isIPv6 == address.isIPv6 else { return false }
        let mask = IPAddress.mask(prefixLength: Int(prefixLength), isIPv6: address.isIPv6)
        return (other.high ^ address.high) & mask.high == 0 && (other.low ^ address.low) & mask.low == 0
    }

    /// "198.18.9.1/24", "fd00::/64" (always with the length).
    public var description: String { "\(address)/\(prefixLength)" }
}

extension IPPrefix: Codable {
    /// As text: "198.18.0.0/15".
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        do {
            self = try IPPrefix(parsing: text)
        } catch {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: error.description)
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
