extension Scenario {
    /// An IPv4 or IPv6 address, read strictly (dotted quad without leading zeros; RFC 4291 text for
    /// IPv6, with `::` and an optional trailing dotted quad). `description` is the canonical text
    /// (RFC 5952 for IPv6).
    public enum IPAddress: Sendable, Hashable, CustomStringConvertible {
        case v4(UInt32)
        /// High and low 64 bits.
        case v6(UInt64, UInt64)

        public enum Family: String, Sendable, Hashable {
            case ipv4, ipv6
        }

        public var family: Family {
            switch self {
            case .v4: return .ipv4
            case .v6: return .ipv6
            }
        }

        /// Network byte order.
        public var bytes: [UInt8] {
            switch self {
            case .v4(let a):
                return (0..<4).map { UInt8(truncatingIfNeeded: a >> (24 - 8 * $0)) }
            case .v6(let hi, let lo):
                return (0..<8).map { UInt8(truncatingIfNeeded: hi >> (56 - 8 * $0)) }
                    + (0..<8).map { UInt8(truncatingIfNeeded: lo >> (56 - 8 * $0)) }
            }
        }

        public var bitWidth: Int { family == .ipv4 ? 32 : 128 }

        public init?(_ text: String) {
            if text.contains(":") {
                guard let (hi, lo) = Self.parseV6(text) else { return nil }
                self = .v6(hi, lo)
            } else {
                guard let a = Self.parseV4(Substring(text)) else { return nil }
                self = .v4(a)
            }
        }

        static func parseV4(_ text: Substring) -> UInt32? {
            let parts = text.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 4 else { return nil }
            var value: UInt32 = 0
            for part in parts {
                guard !part.isEmpty, part.count <= 3, part.allSatisfy({ $0.isASCII && $0.isNumber }),
                      part == "0" || !part.hasPrefix("0"),
                      let octet = UInt32(part), octet <= 255 else { return nil }
                value = value << 8 | octet
            }
            return value
        }

        static func parseV6(_ text: String) -> (UInt64, UInt64)? {
            var groups: [UInt16] = []
            let halves = text.components(separatedBy: "::")
            guard halves.count <= 2 else { return nil }
            func readGroups(_ part: String, allowV4Tail: Bool) -> [UInt16]? {
                if part.isEmpty { return [] }
                let fields = part.split(separator: ":", omittingEmptySubsequences: false)
                var out: [UInt16] = []
                for (i, field) in fields.enumerated() {
                    if i == fields.count - 1, allowV4Tail, field.contains(".") {
                        guard let v4 = parseV4(field) else { return nil }
                        out.append(UInt16(v4 >> 16))
                        out.append(UInt16(v4 & 0xFFFF))
                        continue
                    }
                    guard !field.isEmpty, field.count <= 4, let g = UInt16(field, radix: 16) else { return nil }
                    out.append(g)
                }
                return out
            }
            if halves.count == 2 {
                guard let head = readGroups(halves[0], allowV4Tail: false),
                      let tail = readGroups(halves[1], allowV4Tail: true),
                      head.count + tail.count <= 7 else { return nil }
                groups = head
                groups += [UInt16](repeating: 0, count: 8 - head.count - tail.count) + tail
            } else {
                guard let all = readGroups(text, allowV4Tail: true), all.count == 8 else { return nil }
                groups = all
            }
            var hi: UInt64 = 0, lo: UInt64 = 0
            for i in 0..<4 { hi = hi << 16 | UInt64(groups[i]) }
            for i in 4..<8 { lo = lo << 16 | UInt64(groups[i]) }
            return (hi, lo)
        }

        public var description: String {
            switch self {
            case .v4(let a):
                return "\(a >> 24).\(a >> 16 & 0xFF).\(a >> 8 & 0xFF).\(a & 0xFF)"
            case .v6(let hi, let lo):
                var g: [UInt16] = []
                for i in 0..<4 { g.append(UInt16(truncatingIfNeeded: hi >> (48 - 16 * i))) }
                for i in 0..<4 { g.append(UInt16(truncatingIfNeeded: lo >> (48 - 16 * i))) }
                // Longest run (≥ 2) of zero groups becomes "::" (RFC 5952 §4.2).
                var bestStart = -1, bestLen = 0, i = 0
                while i < 8 {
                    if g[i] == 0 {
                        var j = i
                        while j < 8, g[j] == 0 { j += 1 }
                        if j - i > bestLen && j - i >= 2 { bestStart = i; bestLen = j - i }
                        i = j
                    } else { i += 1 }
                }
                func hex(_ r: Range<Int>) -> String { r.map { String(g[$0], radix: 16) }.joined(separator: ":") }
                if bestStart < 0 { return hex(0..<8) }
                return hex(0..<bestStart) + "::" + hex((bestStart + bestLen)..<8)
            }
        }

        // MARK: properties used by validation

        /// Bits of the address from the top, as a (hi, lo) pair for masking.
        private var wide: (UInt64, UInt64) {
            switch self {
            case .v4(let a): return (0, UInt64(a))
            case .v6(let hi, let lo): return (hi, lo)
            }
        }

        /// The first `prefixLength` bits of both addresses are equal (same family required).
        public func sharesPrefix(_ other: IPAddress, length: Int) -> Bool {
            guard family == other.family else { return false }
            return masked(length) == other.masked(length)
        }

        func masked(_ length: Int) -> IPAddress {
            switch self {
            case .v4(let a):
                let mask: UInt32 = length <= 0 ? 0 : (length >= 32 ? .max : ~(UInt32.max >> UInt32(length)))
                return .v4(a & mask)
            case .v6(let hi, let lo):
                let hiMask: UInt64 = length <= 0 ? 0 : (length >= 64 ? .max : ~(UInt64.max >> UInt64(length)))
                let loBits = length - 64
                let loMask: UInt64 = loBits <= 0 ? 0 : (loBits >= 64 ? .max : ~(UInt64.max >> UInt64(loBits)))
                return .v6(hi & hiMask, lo & loMask)
            }
        }

        /// Addresses a host interface cannot carry: unspecified, loopback, multicast, limited broadcast,
        /// IPv4 "this network" (0/8). Returns why, or nil when usable.
        var unusableReason: String? {
            switch self {
            case .v4(let a):
                if a == 0 { return "the unspecified address" }
                if a >> 24 == 0 { return "in 0.0.0.0/8 ('this network')" }
                if a >> 24 == 127 { return "a loopback address" }
                if a >> 28 == 0xE { return "a multicast address" }
                if a == .max { return "the broadcast address" }
                return nil
            case .v6(let hi, let lo):
                if hi == 0 && lo == 0 { return "the unspecified address" }
                if hi == 0 && lo == 1 { return "the loopback address" }
                if hi >> 56 == 0xFF { return "a multicast address" }
                if hi >> 54 == 0x3FA { return "a link-local address (fe80::/10, assigned by the kernel)" }
                return nil
            }
        }
    }

    /// An address with its prefix length, as put on an interface: `198.18.9.1/24`, `fd00:fa17:9::1/64`.
    public struct InterfaceAddress: Sendable, Hashable, CustomStringConvertible {
        public var address: IPAddress
        public var prefixLength: Int

        public init(address: IPAddress, prefixLength: Int) {
            self.address = address
            self.prefixLength = prefixLength
        }

        /// Reads `address/length`; returns a reason on failure ("what is wrong; expected what").
        static func parse(_ text: String) -> Result<InterfaceAddress, ParseFailure> {
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2 else {
                if IPAddress(text) != nil {
                    return .failure(ParseFailure("'\(text)' has no prefix length",
                        expected: "an address with a prefix length, such as 198.18.9.1/24 or fd00:fa17:9::1/64"))
                }
                return .failure(ParseFailure("'\(text)' is not an address with a prefix length",
                    expected: "an address with a prefix length, such as 198.18.9.1/24 or fd00:fa17:9::1/64"))
            }
            guard let address = IPAddress(String(parts[0])) else {
                return .failure(ParseFailure("'\(parts[0])' is not an IPv4 or IPv6 address",
                    expected: "an address with a prefix length, such as 198.18.9.1/24 or fd00:fa17:9::1/64"))
            }
            guard parts[1].allSatisfy({ $0.isASCII && $0.isNumber }), !parts[1].isEmpty,
                  let length = Int(parts[1]), length >= 1, length <= address.bitWidth else {
                return .failure(ParseFailure("'/\(parts[1])' is not a valid prefix length for \(address.family == .ipv4 ? "IPv4" : "IPv6")",
                    expected: "a prefix length from 1 to \(address.bitWidth)"))
            }
            let value = InterfaceAddress(address: address, prefixLength: length)
            if let why = address.unusableReason {
                return .failure(ParseFailure("\(address) is \(why)", expected: "a unicast address a host interface can carry"))
            }
            if case .v4 = address, length <= 30 {
                let host = value.hostBits
                if host == 0 {
                    return .failure(ParseFailure("\(text) is the network address of its prefix",
                        expected: "a host address inside \(value.network)/\(length)"))
                }
                if host == (UInt64(1) << UInt64(32 - length)) - 1 {
                    return .failure(ParseFailure("\(text) is the broadcast address of its prefix",
                        expected: "a host address inside \(value.network)/\(length)"))
                }
            }
            return .success(value)
        }

        public var network: IPAddress { address.masked(prefixLength) }

        var hostBits: UInt64 {
            guard case .v4(let a) = address else { return 1 }
            let hostWidth = 32 - prefixLength
            return hostWidth >= 32 ? UInt64(a) : UInt64(a) & ((UInt64(1) << UInt64(hostWidth)) - 1)
        }

        public func contains(_ other: IPAddress) -> Bool { address.sharesPrefix(other, length: prefixLength) }

        public var description: String { "\(address)/\(prefixLength)" }
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
