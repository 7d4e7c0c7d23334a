import Values
/// IPv6 header parsing (RFC 8200) with the extension headers that may precede TCP.
enum IPv6 {
    static let hopByHop: UInt8 = 0
    static let routing: UInt8 = 43
    static let fragmentHeader: UInt8 = 44
    static let authentication: UInt8 = 51
    static let destinationOptions: UInt8 = 60

    /// Parses the fixed header and walks hop-by-hop, routing, destination-options and AH headers
    /// to TCP. A Fragment header with a non-zero offset or the M flag set marks a fragment (set
    /// aside); an atomic fragment (offset 0, M clear) is a whole datagram and is analysed.
    @inline(__always)
    static func parse(_ p: UnsafeRawPointer, captured: Int, wireRemaining: Int, offset: Int,
                      into segment: inout TCPSegment) -> TransportLocation {
        guard captured - offset >= 40 else { return .truncated }
        let h = p + offset
        let word0 = h.be32(0)
        guard word0 >> 28 == 6 else { return .malformed }
        segment.ip.version = 6
        segment.ip.trafficClass = UInt8(truncatingIfNeeded: word0 >> 20)
        segment.ip.flowLabel = word0 & 0xF_FFFF
        segment.ip.identification = 0
        segment.ip.hopLimit = h.u8(7)
        segment.source = IPAddress(ipv6High: h.be64(8), low: h.be64(16))
        segment.destination = IPAddress(ipv6High: h.be64(24), low: h.be64(32))

        var payloadLength = Int(h.be16(4))
        // Payload length 0 means a jumbogram (or TSO): take the frame length.
        if payloadLength == 0 { payloadLength = wireRemaining - 40 }
        payloadLength = min(payloadLength, wireRemaining - 40)
        guard payloadLength >= 0 else { return .malformed }

        var next = h.u8(6)
        var at = offset + 40
        var remaining = payloadLength
        while true {
            switch next {
            case IPv4.protocolTCP:
                return .transport(offset: at, length: remaining)
            case hopByHop, routing, destinationOptions:
                guard captured - at >= 8 else { return .truncated }
                let length = (Int(p.u8(at + 1)) + 1) * 8
                guard remaining >= length else { return .malformed }
                next = p.u8(at)
                at += length
                remaining -= length
            case authentication:
                guard captured - at >= 8 else { return .truncated }
                let length = (Int(p.u8(at + 1)) + 2) * 4
                guard remaining >= length else { return .malformed }
                next = p.u8(at)
                at += length
                remaining -= length
            case fragmentHeader:
                guard captured - at >= 8, remaining >= 8 else { return .truncated }
                let offsetAndFlags = p.be16(at + 2)
                if offsetAndFlags & 0xFFF9 != 0 { return .fragment }
                segment.ip.identification = UInt16(truncatingIfNeeded: p.be32(at + 4))
                next = p.u8(at)
                at += 8
                remaining -= 8
            default:
                return .notTCP
            }
        }
    }
}
