/// An IPv4 or IPv6 address in a fixed 17 bytes, so flow keys need no allocation and hash fast.
/// IPv4 addresses are kept in the low 32 bits of `low`; `isIPv6` keeps the two families apart
/// (as tshark does: an IPv4-mapped IPv6 address is not the same endpoint as the IPv4 address).
///
/// Text is read strictly (a dotted quad without leading zeros; RFC 4291 text for IPv6, with `::`
/// and an optional trailing dotted quad) and printed canonically (RFC 5952 for IPv6).
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    public enum Family: String, Sendable, Hashable, CaseIterable {
        case ipv4, ipv6

        /// Address width in bits: 32 or 128.
        public var bitWidth: Int { self == .ipv4 ? 32 : 128 }
        /// "IPv4" or "IPv6", for messages.
        public var name: String { self == .ipv4 ? "IPv4" : "IPv6" }
    }

    @inlinable
    public init(ipv4: UInt32) {
        high = 0
        low = UInt64(ipv4)
        isIPv6 = false
    }

    @inlinable
    public init(ipv6High: UInt64, low: UInt64) {
        high = ipv6High
        self.low = low
        isIPv6 = true
    }

    /// 4 bytes (IPv4) or 16 bytes (IPv6) in network byte order; nil for any other count.
    public init?<Bytes: Collection>(bytes: Bytes) where Bytes.Element == UInt8 {
        switch bytes.count {
        case 4:
            self.init(ipv4: bytes.reduce(0) { $0 << 8 | UInt32($1) })
        case 16:
            var high: UInt64 = 0, low: UInt64 = 0
            for (index, byte) in bytes.enumerated() {
                if index < 8 { high = high << 8 | UInt64(byte) } else { low = low << 8 | UInt64(byte) }
            }
            self.init(ipv6High: high, low: low)
        default:
            return nil
        }
    }

    /// The unspecified address of a family (0.0.0.0 or ::).
    public static func unspecified(_ family: Family) -> IPAddress {
        family == .ipv4 ? IPAddress(ipv4: 0) : IPAddress(ipv6High: 0, low: 0)
    }

    /// Reads a dotted quad or IPv6 text; nil when `text` is neither.
    public init?(_ text: String) {
        self.init(text[...])
    }

    public init?(_ text: Substring) {
        if text.utf8.contains(UInt8(ascii: ":")) {
            guard let (high, low) = Self.parseIPv6(text) else { return nil }
            self.init(ipv6High: high, low: low)
        } else {
            guard let value = Self.parseIPv4(text) else { return nil }
            self.init(ipv4: value)
        }
    }

    public var family: Family { isIPv6 ? .ipv6 : .ipv4 }

    /// 32 or 128.
    public var bitWidth: Int { isIPv6 ? 128 : 32 }

    /// The IPv4 address as a host-order integer (meaningless for IPv6).
    @inlinable
    public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }

    /// Network byte order: 4 bytes for IPv4, 16 for IPv6.
    public var bytes: [UInt8] {
        if !isIPv6 { return (0..<4).map { UInt8(truncatingIfNeeded: low >> (24 - 8 * UInt64($0))) } }
        return (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * UInt64($0))) }
    }

    @inlinable
    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.isIPv6 != b.isIPv6 { return !a.isIPv6 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    /// An IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack socket reports for an
    /// IPv4 peer) as the IPv4 address it stands for; any other address as it is.
    public var unmappingIPv4: IPAddress {
        guard isIPv6, high == 0, low >> 32 == 0xFFFF else { return self }
        return IPAddress(ipv4: UInt32(truncatingIfNeeded: low))
    }

    /// The address with every bit after the first `prefixLength` cleared.
    @inlinable
    public func masked(toPrefixLength prefixLength: Int) -> IPAddress {
        let mask = IPAddress.mask(prefixLength: prefixLength, isIPv6: isIPv6)
        var result = self
        result.high &= mask.high
        result.low &= mask.low
        return result
    }

    /// The netmask of a prefix length, as (high, low) halves laid out like the addresses.
    @inlinable
    static func mask(prefixLength: Int, isIPv6: Bool) -> (high: UInt64, low: UInt64) {
        if !isIPv6 {
            let length = max(0, min(prefixLength, 32))
            return (0, length == 0 ? 0 : (UInt64(0xffff_ffff) << UInt64(32 - length)) & 0xffff_ffff)
        }
        let length = max(0, min(prefixLength, 128))
        let high: UInt64 = length >= 64 ? ~0 : (length == 0 ? 0 : ~0 << UInt64(64 - length))
        let low: UInt64 = length <= 64 ? 0 : (length == 128 ? ~0 : ~0 << UInt64(128 - length))
        return (high, low)
    }

    /// Dotted quad or RFC 5952 text (lowercase, longest run of two or more zero groups as "::").
    public var description: String {
        if !isIPv6 {
            let v = ipv4
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var groups: [UInt16] = []
        groups.reserveCapacity(8)
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift))) }
        var bestStart = -1, bestLength = 1, runStart = -1
        for index in 0...8 {
            if index < 8 && groups[index] == 0 {
                if runStart < 0 { runStart = index }
            } else if runStart >= 0 {
                if index - runStart > bestLength { bestStart = runStart; bestLength = index - runStart }
                runStart = -1
            }
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        if bestStart < 0 { return hex(0..<8) }
        return hex(0..<bestStart) + "::" + hex((bestStart + bestLength)..<8)
    }

    // MARK: parsing

    /// Four decimal octets 0–255, no leading zeros, no signs or spaces.
    static func parseIPv4(_ text: Substring) -> UInt32? {
        var value: UInt32 = 0
        var octets = 0
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            guard octets < 4, let octet = decimalOctet(part) else { return nil }
            value = value << 8 | UInt32(octet)
            octets += 1
        }
        return octets == 4 ? value : nil
    }

    private static func decimalOctet(_ part: Substring) -> UInt8? {
        let digits = part.utf8
        guard !digits.isEmpty, digits.count <= 3, digits.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        if digits.count > 1 && digits.first == 0x30 { return nil }
        let value = digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return value <= 255 ? UInt8(value) : nil
    }

    /// Eight groups of one to four hex digits, one `::` for a run of zero groups, an optional
    /// trailing dotted quad for the last two groups.
    static func parseIPv6(_ text: Substring) -> (UInt64, UInt64)? {
        var head: [UInt16] = [], tail: [UInt16] = []
        var sawGap = false
        var rest = text
        if rest.hasPrefix("::") {
            sawGap = true
            rest = rest.dropFirst(2)
            if rest.isEmpty { return (0, 0) }
        } else if rest.hasPrefix(":") {
            return nil
        }
        while true {
            let end = rest.firstIndex(of: ":") ?? rest.endIndex
            let field = rest[..<end]
            if end == rest.endIndex, field.contains(".") {
                guard let v4 = parseIPv4(field) else { return nil }
                let pair = [UInt16(v4 >> 16), UInt16(v4 & 0xFFFF)]
                if sawGap { tail += pair } else { head += pair }
                break
            }
            guard !field.isEmpty, field.utf8.count <= 4, let group = UInt16(field, radix: 16),
                  field.utf8.allSatisfy({ isHexDigit($0) }) else { return nil }
            if sawGap { tail.append(group) } else { head.append(group) }
            if end == rest.endIndex { break }
            rest = rest[rest.index(after: end)...]
            if rest.hasPrefix(":") {
                guard !sawGap else { return nil }
                sawGap = true
                rest = rest.dropFirst()
                if rest.isEmpty { break }
            } else if rest.isEmpty {
                return nil   // a trailing single ":"
            }
        }
        let count = head.count + tail.count
        if sawGap { guard count <= 7 else { return nil } } else { guard count == 8 else { return nil } }
        let groups = head + [UInt16](repeating: 0, count: 8 - count) + tail
        var high: UInt64 = 0, low: UInt64 = 0
        for index in 0..<4 { high = high << 16 | UInt64(groups[index]) }
        for index in 4..<8 { low = low << 16 | UInt64(groups[index]) }
        return (high, low)
    }

    private static func isHexDigit(_ c: UInt8) -> Bool {
        (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
    }
}
