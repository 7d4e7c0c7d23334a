/// An IPv4 or IPv6 address in a fixed 17 bytes, so flow keys need no allocation and hash fast.
/// IPv4 addresses are kept in the low 32 bits of `low`; `isIPv6` keeps the two families apart
/// (as tshark does: an IPv4-mapped IPv6 address is not the same endpoint as the IPv4 address).
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var high: UInt64
    public var low: UInt64
    public var isIPv6: Bool

    public init(ipv4: UInt32) {
        high = 0
        low = UInt64(ipv4)
        isIPv6 = false
    }

    public init(ipv6High: UInt64, low: UInt64) {
        high = ipv6High
        self.low = low
        isIPv6 = true
    }

    /// The IPv4 address as a host-order integer (meaningless for IPv6).
    public var ipv4: UInt32 { UInt32(truncatingIfNeeded: low) }

    public static func < (a: IPAddress, b: IPAddress) -> Bool {
        if a.isIPv6 != b.isIPv6 { return !a.isIPv6 }
        if a.high != b.high { return a.high < b.high }
        return a.low < b.low
    }

    /// Dotted quad or RFC 5952 text.
    public var description: String {
        if !isIPv6 {
            let v = ipv4
            return "\(v >> 24).\((v >> 16) & 0xFF).\((v >> 8) & 0xFF).\(v & 0xFF)"
        }
        var groups: [UInt16] = []
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: high >> UInt64(shift))) }
        for shift in stride(from: 48, through: 0, by: -16) { groups.append(UInt16(truncatingIfNeeded: low >> UInt64(shift))) }
        // Longest run of two or more zero groups becomes "::".
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
}
