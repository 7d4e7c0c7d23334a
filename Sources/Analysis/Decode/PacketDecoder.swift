/// What decoding a frame found.
public enum DecodeOutcome: UInt8, Sendable, CaseIterable {
    /// A TCP segment that the analysis takes.
    case tcp
    /// Link type this module does not decode.
    case unsupportedLink
    /// Not IPv4/IPv6 (ARP, LLDP, ...).
    case notIP
    /// IP but not TCP (UDP, ICMP, ...).
    case notTCP
    /// An IP fragment: set aside, as tshark does when it cannot reassemble.
    case fragment
    /// Headers cut by the snap length before the TCP fixed header ended.
    case truncated
    /// Inconsistent header fields (bad version, IHL, lengths; TCP segment shorter than its header).
    case malformed
}

/// Decodes frames into `TCPSegment`s: link layer → IPv4/IPv6 → TCP.
public enum PacketDecoder {
    /// Decodes `packet` into `segment` (overwriting it). Only when the result is `.tcp` is
    /// `segment` complete.
    @inline(__always)
    public static func decode(_ packet: PacketRecord, into segment: inout TCPSegment) -> DecodeOutcome {
        guard let base = packet.bytes.baseAddress else { return .truncated }
        let captured = packet.bytes.count
        // The wire length bounds IP lengths; a writer that stored orig < incl is trusted for incl.
        let wire = max(packet.originalLength, captured)
        segment.vlans = VLANTags()
        guard packet.linkType.isSupported else { return .unsupportedLink }
        guard let (networkOffset, etherType) = LinkLayer.networkHeader(base, count: captured,
                                                                         linkType: packet.linkType,
                                                                         vlans: &segment.vlans) else {
            return captured < 4 ? .truncated : .notIP
        }
        let location: TransportLocation
        switch etherType {
        case LinkLayer.etherTypeIPv4:
            location = IPv4.parse(base, captured: captured, wireRemaining: wire - networkOffset,
                                  offset: networkOffset, into: &segment)
        case LinkLayer.etherTypeIPv6:
            location = IPv6.parse(base, captured: captured, wireRemaining: wire - networkOffset,
                                  offset: networkOffset, into: &segment)
        default:
            return .notIP
        }
        switch location {
        case let .transport(offset, length):
            return TCPHeader.parse(base, captured: captured, offset: offset, reportedLength: length,
                                   into: &segment) ? .tcp : (captured - offset < 20 ? .truncated : .malformed)
        case .notTCP: return .notTCP
        case .fragment: return .fragment
        case .truncated: return .truncated
        case .malformed: return .malformed
        }
    }
}
