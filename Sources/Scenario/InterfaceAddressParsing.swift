import Values

extension Scenario {
    /// Reads an interface address, `address/length` (`198.18.9.1/24`, `fd00:fa17:9::1/64`), as a
    /// scenario file gives it: a unicast address a host interface can carry, and for IPv4 with a
    /// prefix of /30 or wider neither the network nor the broadcast address of its prefix.
    /// Returns a reason on failure ("what is wrong; expected what").
    static func parseInterfaceAddress(_ text: String) -> Result<IPPrefix, ParseFailure> {
        let expectedForm = "an address with a prefix length, such as 198.18.9.1/24 or fd00:fa17:9::1/64"
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2 else {
            if IPAddress(text) != nil {
                return .failure(ParseFailure("'\(text)' has no prefix length", expected: expectedForm))
            }
            return .failure(ParseFailure("'\(text)' is not an address with a prefix length", expected: expectedForm))
        }
        guard let address = IPAddress(parts[0]) else {
            return .failure(ParseFailure("'\(parts[0])' is not an IPv4 or IPv6 address", expected: expectedForm))
        }
        guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty,
              let length = Int(parts[1]), length >= 1, length <= address.bitWidth else {
            return .failure(ParseFailure("'/\(parts[1])' is not a valid prefix length for \(address.family.name)",
                expected: "a prefix length from 1 to \(address.bitWidth)"))
        }
        let value = IPPrefix(address: address, prefixLength: UInt8(length))
        if let why = address.unusableReason {
            return .failure(ParseFailure("\(address) is \(why)", expected: "a unicast address a host interface can carry"))
        }
        if address.family == .ipv4, length <= 30 {
            let hostMask = (UInt32(1) << UInt32(32 - length)) &- 1
            let host = address.ipv4 & hostMask
            if host == 0 {
                return .failure(ParseFailure("\(text) is the network address of its prefix",
                    expected: "a host address inside \(value.network)"))
            }
            if host == hostMask {
                return .failure(ParseFailure("\(text) is the broadcast address of its prefix",
                    expected: "a host address inside \(value.network)"))
            }
        }
        return .success(value)
    }
}

extension IPAddress {
    /// Addresses a host interface cannot carry: unspecified, loopback, multicast, limited broadcast,
    /// IPv4 "this network" (0/8). Returns why, or nil when usable.
    var unusableReason: String? {
        if !isIPv6 {
            let a = ipv4
            if a == 0 { return "the unspecified address" }
            if a >> 24 == 0 { return "in 0.0.0.0/8 ('this network')" }
            if a >> 24 == 127 { return "a loopback address" }
            if a >> 28 == 0xE { return "a multicast address" }
            if a == .max { return "the broadcast address" }
            return nil
        }
        if high == 0 && low == 0 { return "the unspecified address" }
        if high == 0 && low == 1 { return "the loopback address" }
        if high >> 56 == 0xFF { return "a multicast address" }
        if high >> 54 == 0x3FA { return "a link-local address (fe80::/10, assigned by the kernel)" }
        return nil
    }
}

/// A reason a piece of text could not be read: "what is wrong" and "what was expected".
struct ParseFailure: Error {
    var problem: String
    var expected: String
    init(_ problem: String, expected: String) {
        self.problem = problem
        self.expected = expected
    }
}
