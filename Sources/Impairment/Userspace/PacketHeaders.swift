import Values
/// The header fields of one IP packet the engine needs: for matching, pacing, corruption, the
/// decision log. Parsed from the bytes NFQUEUE hands over (an IPv4 or IPv6 packet, no L2 header).
public struct PacketHeaders: Sendable, Hashable {
    /// 4 or 6; 0 if the bytes are not an IP packet the engine understands.
    public var version: UInt8 = 0
    /// The packet's length on the IP layer (IPv4 total length; IPv6 40 + payload length), which
    /// may exceed the captured bytes when the queue copies only headers.
    public var ipLength: Int = 0
    /// Offset of the transport header (after IPv6 extension headers); nil when there is none
    /// the engine can find (non-first fragment, unknown extension).
    public var transportOffset: Int?
    /// IP protocol number of the transport (6 tcp, 17 udp, ...).
    public var transport: UInt8 = 0
    public var source = IPAddress(ipv4: 0)
    public var destination = IPAddress(ipv4: 0)
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    /// TCP flags byte (0 for other transports).
    public var tcpFlags: UInt8 = 0
    /// TCP sequence number (0 for other transports).
    public var tcpSequence: UInt32 = 0
    /// Transport payload length in bytes (TCP: after the options; UDP: after the 8-byte header).
    public var payloadLength: Int = 0
    /// Offset of the transport payload.
    public var payloadOffset: Int = 0
    /// The ECN field (0 not-ECT, 1 ECT(1), 2 ECT(0), 3 CE).
    public var ecn: UInt8 = 0

    public init() {}

    public var hasPorts: Bool { transportOffset != nil && (transport == 6 || transport == 17) }

    /// Parses `bytes` (captured bytes of one IP packet; may be shorter than the packet).
    public init(parsing bytes: UnsafeRawBufferPointer) {
        self.init()
        guard bytes.count >= 1 else { return }
        let first = bytes[0]
        switch first >> 4 {
        case 4: parseIPv4(bytes)
        case 6: parseIPv6(bytes)
        default: return
        }
    }

    private mutating func parseIPv4(_ b: UnsafeRawBufferPointer) {
        guard b.count >= 20 else { return }
        let ihl = Int(b[0] & 0x0f) * 4
        guard ihl >= 20, b.count >= ihl else { return }
        version = 4
        ecn = b[1] & 0x03
        ipLength = Int(be16(b, 2))
        transport = b[9]
        source = IPAddress(ipv4: be32(b, 12))
        destination = IPAddress(ipv4: be32(b, 16))
        let fragmentOffset = be16(b, 6) & 0x1fff
        if fragmentOffset != 0 { return }   // a later fragment: no transport header
        parseTransport(b, at: ihl)
    }

    private mutating func parseIPv6(_ b: UnsafeRawBufferPointer) {
        guard b.count >= 40 else { return }
        version = 6
        ecn = (b[1] >> 4) & 0x03
        ipLength = 40 + Int(be16(b, 4))
        source = IPAddress(ipv6High: be64(b, 8), low: be64(b, 16))
        destination = IPAddress(ipv6High: be64(b, 24), low: be64(b, 32))
        var next = b[6]
        var offset = 40
        // Walk the extension headers netfilter itself would skip.
        for _ in 0..<8 {
            switch next {
            case 0, 43, 60:  // hop-by-hop, routing, destination options
                guard b.count >= offset + 2 else { transport = next; return }
                let length = (Int(b[offset + 1]) + 1) * 8
                next = b[offset]
                offset += length
            case 44:  // fragment
                guard b.count >= offset + 8 else { transport = next; return }
                let fragmentOffset = be16(b, offset + 2) & 0xfff8
                next = b[offset]
                offset += 8
                if fragmentOffset != 0 { transport = next; return }
            case 51:  // AH: length in 4-byte units, minus 2
                guard b.count >= offset + 2 else { transport = next; return }
                let length = (Int(b[offset + 1]) + 2) * 4
                next = b[offset]
                offset += length
            default:
                transport = next
                parseTransport(b, at: offset)
                return
            }
        }
        transport = next
    }

    private mutating func parseTransport(_ b: UnsafeRawBufferPointer, at offset: Int) {
        let end = max(ipLength, 0)
        switch transport {
        case 6:
            guard b.count >= offset + 20 else { return }
            transportOffset = offset
            sourcePort = be16(b, offset)
            destinationPort = be16(b, offset + 2)
            tcpSequence = be32(b, offset + 4)
            let dataOffset = Int(b[offset + 12] >> 4) * 4
            tcpFlags = b[offset + 13]
            payloadOffset = offset + dataOffset
            payloadLength = max(0, end - payloadOffset)
        case 17:
            guard b.count >= offset + 8 else { return }
            transportOffset = offset
            sourcePort = be16(b, offset)
            destinationPort = be16(b, offset + 2)
            payloadOffset = offset + 8
            payloadLength = max(0, end - payloadOffset)
        default:
            guard b.count >= offset else { return }
            transportOffset = offset
            payloadOffset = offset
            payloadLength = max(0, end - offset)
        }
    }

    // MARK: text for the decision log

    /// "udp 198.18.1.2:5000>198.18.2.2:6000", "tcp [fd00:fa17:1::2]:40000>[fd00:fa17:2::2]:5001",
    /// "icmp 198.18.1.2>198.18.2.2", "?" for bytes that are not IP.
    public var flowDescription: String {
        guard version != 0 else { return "?" }
        let name: String
        switch transport {
        case 6: name = "tcp"
        case 17: name = "udp"
        case 1: name = "icmp"
        case 58: name = "icmpv6"
        default: name = "proto\(transport)"
        }
        let src = source.description
        let dst = destination.description
        if hasPorts {
            if version == 6 { return "\(name) [\(src)]:\(sourcePort)>[\(dst)]:\(destinationPort)" }
            return "\(name) \(src):\(sourcePort)>\(dst):\(destinationPort)"
        }
        return "\(name) \(src)>\(dst)"
    }

    /// "S", "SA", "A", "PA", "FA", "R" (tcpdump's letters: F S R P A U E C, "." for none).
    public var tcpFlagsText: String {
        let letters: [(UInt8, Character)] = [(0x01, "F"), (0x02, "S"), (0x04, "R"), (0x08, "P"),
                                             (0x10, "A"), (0x20, "U"), (0x40, "E"), (0x80, "C")]
        let text = String(letters.filter { tcpFlags & $0.0 != 0 }.map(\.1))
        return text.isEmpty ? "." : text
    }
}

@inline(__always) func be16(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt16 {
    UInt16(b[o]) << 8 | UInt16(b[o + 1])
}
@inline(__always) func be32(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt32 {
    UInt32(b[o]) << 24 | UInt32(b[o + 1]) << 16 | UInt32(b[o + 2]) << 8 | UInt32(b[o + 3])
}
@inline(__always) func be64(_ b: UnsafeRawBufferPointer, _ o: Int) -> UInt64 {
    UInt64(be32(b, o)) << 32 | UInt64(be32(b, o + 4))
}
