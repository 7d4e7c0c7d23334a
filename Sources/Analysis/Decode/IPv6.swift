import Values
/// IPv6 header parsing (RFC 8200) with the extension headers that may precede TCP.
enum IPv6 {
    static let hopByHop = IPv6ExtensionHeaderView.hopByHop
    static let routing = IPv6ExtensionHeaderView.routing
    static let fragmentHeader = IPv6ExtensionHeaderView.fragment
    static let authentication = IPv6ExtensionHeaderView.authentication
    static let destinationOptions = IPv6ExtensionHeaderView.destinationOptions

    /// Parses the fixed header and walks hop-by-hop, routing, destination-options and AH headers
    /// to TCP. A Fragment header with a non-zero offset or the M flag set marks a fragment (set
    /// aside); an atomic fragment (offset 0, M clear) is a whole datagram and is analysed.
    @inline(__always)
    static func parse(_ p: UnsafeRawPointer, captured: Int, wireRemaining: Int, offset: Int,
                      into segment: inout TCPSegment) -> TransportLocation {
        guard captured - offset >= IPv6HeaderView.minimumLength else { return .truncated }
        let h = IPv6HeaderView(p + offset)
        guard h.version == 6 else { return .malformed }
        segment.ip.version = 6
        segment.ip.trafficClass = h.trafficClass
        segment.ip.flowLabel = h.flowLabel
        segment.ip.identification = 0
        segment.ip.hopLimit = h.hopLimit
        segment.source = h.source
        segment.destination = h.destination

        var payloadLength = Int(h.payloadLength)
        // Payload length 0 means a jumbogram (or TSO): take the frame length.
        if payloadLength == 0 { payloadLength = wireRemaining - IPv6HeaderView.length }
        payloadLength = min(payloadLength, wireRemaining - IPv6HeaderView.length)
        guard payloadLength >= 0 else { return .malformed }

        var next = h.nextHeader
        var at = offset + IPv6HeaderView.length
        var remaining = payloadLength
        while true {
            switch next {
            case IPv4.protocolTCP:
                return .transport(offset: at, length: remaining)
            case hopByHop, routing, destinationOptions, authentication:
                guard captured - at >= 8 else { return .truncated }
                let header = IPv6ExtensionHeaderView(p + at)
                let length = header.length(kind: next)
                guard remaining >= length else { return .malformed }
                next = header.nextHeader
                at += length
                remaining -= length
            case fragmentHeader:
                guard captured - at >= IPv6ExtensionHeaderView.fragmentLength,
                      remaining >= IPv6ExtensionHeaderView.fragmentLength else { return .truncated }
                let header = IPv6ExtensionHeaderView(p + at)
                // A non-zero offset or the M flag set: a piece of a datagram (an atomic
                // fragment, offset 0 and M clear, is whole).
                if header.fragmentOffsetAndFlags & 0xFFF9 != 0 { return .fragment }
                segment.ip.identification = UInt16(truncatingIfNeeded: header.fragmentIdentification)
                next = header.nextHeader
                at += IPv6ExtensionHeaderView.fragmentLength
                remaining -= IPv6ExtensionHeaderView.fragmentLength
            default:
                return .notTCP
            }
        }
    }
}
