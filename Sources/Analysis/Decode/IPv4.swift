import Values
/// IPv4 header parsing (RFC 791), options skipped by IHL.
enum IPv4 {
    static let protocolTCP: UInt8 = 6

    /// Parses the header at `offset`. `wireRemaining` is the number of bytes the frame had on the
    /// wire from `offset` on: since captures are cut by the snap length, the segment length must
    /// come from the IP total length, bounded by what was on the wire (as tshark does).
    @inline(__always)
    static func parse(_ p: UnsafeRawPointer, captured: Int, wireRemaining: Int, offset: Int,
                      into segment: inout TCPSegment) -> TransportLocation {
        guard captured - offset >= 20 else { return .truncated }
        let h = p + offset
        let versionIHL = h.u8(0)
        guard versionIHL >> 4 == 4 else { return .malformed }
        let headerLength = Int(versionIHL & 0x0F) * 4
        guard headerLength >= 20, captured - offset >= headerLength else {
            return headerLength < 20 ? .malformed : .truncated
        }
        var totalLength = Int(h.be16(2))
        // Total length 0 is what TSO-offloaded captures show: trust the frame length instead.
        if totalLength == 0 { totalLength = wireRemaining }
        guard totalLength >= headerLength else { return .malformed }
        totalLength = min(totalLength, wireRemaining)

        segment.ip.version = 4
        segment.ip.trafficClass = h.u8(1)
        segment.ip.identification = h.be16(4)
        segment.ip.hopLimit = h.u8(8)
        segment.ip.flowLabel = 0
        segment.source = IPAddress(ipv4: h.be32(12))
        segment.destination = IPAddress(ipv4: h.be32(16))

        let fragment = h.be16(6)
        // More-fragments set or a non-zero offset: a piece of a datagram, set aside.
        if fragment & 0x3FFF != 0 { return .fragment }
        guard h.u8(9) == protocolTCP else { return .notTCP }
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
