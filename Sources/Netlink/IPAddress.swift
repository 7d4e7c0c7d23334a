import Glibc

/// An IPv4 or IPv6 address, parsed and printed with inet_pton/inet_ntop.
public enum IPAddress: Hashable, Sendable, CustomStringConvertible {
    case v4([UInt8])   // 4 bytes, network order
    case v6([UInt8])   // 16 bytes

    public init?(_ text: String) {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            self = .v4(withUnsafeBytes(of: v4) { Array($0) })
            return
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 {
            self = .v6(withUnsafeBytes(of: v6) { Array($0) })
            return
        }
        return nil
    }

    public var bytes: [UInt8] {
        switch self { case .v4(let b), .v6(let b): return b }
    }
    public var isIPv6: Bool { if case .v6 = self { return true } else { return false } }
    var family: UInt8 { isIPv6 ? AF_INET6_U8 : AF_INET_U8 }

    public var description: String {
        var buffer = [CChar](repeating: 0, count: 64)
        let family = isIPv6 ? AF_INET6 : AF_INET
        let bytes = self.bytes
        let ok = bytes.withUnsafeBytes { raw in inet_ntop(family, raw.baseAddress, &buffer, 64) != nil }
        guard ok else { return "?" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// An address with a prefix length, "198.18.1.1/24" or "fd00::1/64".
public struct IPNetwork: Hashable, Sendable, CustomStringConvertible {
    public var address: IPAddress
    public var prefixLength: UInt8

    public init(address: IPAddress, prefixLength: UInt8) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// Parses CIDR notation; nil when the address or the prefix length is invalid.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(String(parts[0])), let length = UInt8(parts[1]),
              length <= (address.isIPv6 ? 128 : 32) else { return nil }
        self.init(address: address, prefixLength: length)
    }

    public var description: String { "\(address)/\(prefixLength)" }

    /// The network address (host bits cleared).
    public var network: IPNetwork {
        var bytes = address.bytes
        for index in 0..<bytes.count {
            let bitsHere = max(0, min(8, Int(prefixLength) - index * 8))
            bytes[index] &= bitsHere == 0 ? 0 : UInt8(truncatingIfNeeded: 0xff << (8 - bitsHere))
        }
        return IPNetwork(address: address.isIPv6 ? .v6(bytes) : .v4(bytes), prefixLength: prefixLength)
    }

    public func contains(_ other: IPAddress) -> Bool {
        guard other.isIPv6 == address.isIPv6 else { return false }
        return IPNetwork(address: other, prefixLength: prefixLength).network == network
    }
}
