import Values
/// IPv4 header parsing (RFC 791), options skipped by IHL.
enum IPv4 {
    static let protocolTCP = IPProtocolNumber.tcp

    /// Parses the header at `offset`. `wireRemaining` is the number of bytes the frame had on the
    /// wire from `offset` on: since captures are cut by the snap length, the segment length must
    /// come from the IP total length, bounded by what was on the wire (as tshark does).
    @inline(__always)
    static func parse(_ p: UnsafeRawPointer, captured: Int, wireRemaining: Int, offset: Int,
                      into segment: inout TCPSegment) -> TransportLocation {
        guard captured - offset >= IPv4HeaderView.minimumLength else { return .truncated }
        let h = IPv4HeaderView(p + offset)
        guard h.version == 4 else { return .malformed }
        let headerLength = h.headerLength
        guard headerLength >= IPv4HeaderView.minimumLength, captured - offset >= headerLength else {
            return headerLength < IPv4HeaderView.minimumLength ? .malformed : .truncated
        }
        var totalLength = Int(h.totalLength)
        // Total length 0 is what TSO-offloaded captures show: trust the frame length instead.
        if totalLength == 0 { totalLength = wireRemaining }
        guard totalLength >= headerLength else { return .malformed }
        totalLength = min(totalLength, wireRemaining)

        segment.ip.version = 4
        segment.ip.trafficClass = h.trafficClass
        segment.ip.identification = h.identification
        segment.ip.hopLimit = h.timeToLive
        segment.ip.flowLabel = 0
        segment.source = h.source
        segment.destination = h.destination

        // More-fragments set or a non-zero offset: a piece of a datagram, set aside.
        if h.isFragment { return .fragment }
        guard h.transportProtocol == protocolTCP else { return .notTCP }
        return .transport(offset: offset + headerLength, length: totalLength - headerLength)
    }
}

/// Where the transport header of a packet is, or why there is none to analyse.
enum TransportLocation {
    case transport(offset: Int, length: Int)
    case notTCP
    case fragment
    case truncated
    case malformed
}
