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
        guard let base = bytes.baseAddress, bytes.count >= 1 else { return }
        switch base.load(as: UInt8.self) >> 4 {
        case 4: parseIPv4(base, count: bytes.count)
        case 6: parseIPv6(base, count: bytes.count)
        default: return
        }
    }

    private mutating func parseIPv4(_ base: UnsafeRawPointer, count: Int) {
        guard count >= IPv4HeaderView.minimumLength else { return }
        let ip = IPv4HeaderView(base)
        let headerLength = ip.headerLength
        guard headerLength >= IPv4HeaderView.minimumLength, count >= headerLength else { return }
        version = 4
        ecn = ip.ecn
        ipLength = Int(ip.totalLength)
        transport = ip.transportProtocol
        source = ip.source
        destination = ip.destination
        if ip.fragmentOffset != 0 { return }   // a later fragment: no transport header
        parseTransport(base, count: count, at: headerLength)
    }

    private mutating func parseIPv6(_ base: UnsafeRawPointer, count: Int) {
        guard count >= IPv6HeaderView.minimumLength else { return }
        let ip = IPv6HeaderView(base)
        version = 6
        ecn = ip.ecn
        ipLength = IPv6HeaderView.length + Int(ip.payloadLength)
        source = ip.source
        destination = ip.destination
        var next = ip.nextHeader
        var offset = IPv6HeaderView.length
        // Walk the extension headers netfilter itself would skip.
        for _ in 0..<8 {
            switch next {
            case IPv6ExtensionHeaderView.hopByHop, IPv6ExtensionHeaderView.routing, IPv6ExtensionHeaderView.destinationOptions,
                 IPv6ExtensionHeaderView.authentication:
                guard count >= offset + IPv6ExtensionHeaderView.minimumLength else { transport = next; return }
                let header = IPv6ExtensionHeaderView(base + offset)
                offset += header.length(kind: next)
                next = header.nextHeader
            case IPv6ExtensionHeaderView.fragment:
                guard count >= offset + IPv6ExtensionHeaderView.fragmentLength else { transport = next; return }
                let header = IPv6ExtensionHeaderView(base + offset)
                next = header.nextHeader
                offset += IPv6ExtensionHeaderView.fragmentLength
                if header.fragmentOffset != 0 { transport = next; return }
            default:
                transport = next
                parseTransport(base, count: count, at: offset)
                return
            }
        }
        transport = next
    }

    private mutating func parseTransport(_ base: UnsafeRawPointer, count: Int, at offset: Int) {
        let end = max(ipLength, 0)
        switch transport {
        case IPProtocolNumber.tcp:
            guard count >= offset + TCPHeaderView.minimumLength else { return }
            let tcp = TCPHeaderView(base + offset)
            transportOffset = offset
            sourcePort = tcp.sourcePort
            destinationPort = tcp.destinationPort
            tcpSequence = tcp.sequenceNumber
            tcpFlags = tcp.flags
            payloadOffset = offset + tcp.headerLength
            payloadLength = max(0, end - payloadOffset)
        case IPProtocolNumber.udp:
            guard count >= offset + UDPHeaderView.length else { return }
            let udp = UDPHeaderView(base + offset)
            transportOffset = offset
            sourcePort = udp.sourcePort
            destinationPort = udp.destinationPort
            payloadOffset = offset + UDPHeaderView.length
            payloadLength = max(0, end - payloadOffset)
        default:
            guard count >= offset else { return }
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
