import Values
/// TCP control bits (the 12-bit field after the data offset).
public struct TCPControlFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let fin = TCPControlFlags(rawValue: 0x001)
    public static let syn = TCPControlFlags(rawValue: 0x002)
    public static let rst = TCPControlFlags(rawValue: 0x004)
    public static let psh = TCPControlFlags(rawValue: 0x008)
    public static let ack = TCPControlFlags(rawValue: 0x010)
    public static let urg = TCPControlFlags(rawValue: 0x020)
    public static let ece = TCPControlFlags(rawValue: 0x040)
    public static let cwr = TCPControlFlags(rawValue: 0x080)
    public static let ns = TCPControlFlags(rawValue: 0x100)

    /// tcpdump-style letters, e.g. "S.", "P.", "R", "F.".
    public var shortDescription: String {
        var text = ""
        if contains(.syn) { text += "S" }
        if contains(.fin) { text += "F" }
        if contains(.rst) { text += "R" }
        if contains(.psh) { text += "P" }
        if contains(.urg) { text += "U" }
        if contains(.ece) { text += "E" }
        if contains(.cwr) { text += "W" }
        if contains(.ack) { text += "." }
        return text.isEmpty ? "none" : text
    }
}

/// One SACK block: bytes [left, right) received out of order (absolute sequence numbers).
public struct SACKBlock: Sendable, Equatable {
    public var left: UInt32
    public var right: UInt32
    public init(left: UInt32, right: UInt32) { self.left = left; self.right = right }
}

/// The TCP options the analysis uses, in fixed storage (no allocation per packet).
public struct TCPOptions: Sendable {
    /// False when the options were cut by the snap length or the data offset is below 5: tshark
    /// then stops dissecting the segment, so none of its options take effect.
    public var complete = true
    /// MSS option value, 0 when absent.
    public var mss: UInt16 = 0
    /// Window-scale shift as sent (before clamping to 14), -1 when absent.
    public var windowScale: Int8 = -1
    public var sackPermitted = false
    public var hasTimestamp = false
    public var timestampValue: UInt32 = 0
    public var timestampEcho: UInt32 = 0
    /// Number of SACK blocks (at most 4 are kept).
    public var sackCount: UInt8 = 0
    @usableFromInline var sackEdges: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0, 0, 0, 0, 0)

    public init() {}

    /// SACK block `index` (0 ..< sackCount).
    public func sackBlock(_ index: Int) -> SACKBlock {
        switch index {
        case 0: return SACKBlock(left: sackEdges.0, right: sackEdges.1)
        case 1: return SACKBlock(left: sackEdges.2, right: sackEdges.3)
        case 2: return SACKBlock(left: sackEdges.4, right: sackEdges.5)
        default: return SACKBlock(left: sackEdges.6, right: sackEdges.7)
        }
    }

    /// All SACK blocks (allocates; for reports, not hot paths).
    public var sackBlocks: [SACKBlock] { (0..<Int(sackCount)).map(sackBlock) }

    /// Bytes covered by the SACK blocks (what bytes-in-flight subtracts).
    @inline(__always)
    var sackedBytes: UInt32 {
        var total: UInt32 = 0
        if sackCount > 0 { total &+= sackEdges.1 &- sackEdges.0 }
        if sackCount > 1 { total &+= sackEdges.3 &- sackEdges.2 }
        if sackCount > 2 { total &+= sackEdges.5 &- sackEdges.4 }
        if sackCount > 3 { total &+= sackEdges.7 &- sackEdges.6 }
        return total
    }

    @inline(__always)
    mutating func appendSACK(left: UInt32, right: UInt32) {
        switch sackCount {
        case 0: sackEdges.0 = left; sackEdges.1 = right
        case 1: sackEdges.2 = left; sackEdges.3 = right
        case 2: sackEdges.4 = left; sackEdges.5 = right
        case 3: sackEdges.6 = left; sackEdges.7 = right
        default: return
        }
        sackCount += 1
    }

    /// D-SACK (RFC 2883): the first block reports data already covered by the cumulative ACK,
    /// or lies inside the second block. It means the receiver got a duplicate: a spurious
    /// retransmission or a duplicated packet.
    public func isDSACK(acknowledgment ack: UInt32) -> Bool {
        guard sackCount > 0 else { return false }
        let first = sackBlock(0)
        if SeqNum.lessThan(first.left, ack) { return true }
        if sackCount > 1 {
            let second = sackBlock(1)
            return SeqNum.lessOrEqual(second.left, first.left) && SeqNum.lessOrEqual(first.right, second.right)
        }
        return false
    }
}

/// Network-layer facts kept per segment for diagnosis (path changes, duplicates, middleboxes).
public struct IPInfo: Sendable {
    /// 4 or 6.
    public var version: UInt8 = 0
    /// IPv4 TTL or IPv6 hop limit.
    public var hopLimit: UInt8 = 0
    /// IPv4 identification, or the IPv6 fragment-header identification (low 16 bits), else 0.
    public var identification: UInt16 = 0
    /// DSCP + ECN byte.
    public var trafficClass: UInt8 = 0
    /// IPv6 flow label (0 for IPv4).
    public var flowLabel: UInt32 = 0
    public init() {}
}

/// A decoded TCP segment with everything the analysis needs, in fixed-size storage.
public struct TCPSegment: Sendable {
    public var source = IPAddress(ipv4: 0)
    public var destination = IPAddress(ipv4: 0)
    public var sourcePort: UInt16 = 0
    public var destinationPort: UInt16 = 0
    public var sequenceNumber: UInt32 = 0
    public var acknowledgmentNumber: UInt32 = 0
    public var flags = TCPControlFlags()
    /// Raw (unscaled) window field.
    public var window: UInt16 = 0
    /// Data offset × 4.
    public var headerLength: UInt16 = 0
    /// Payload bytes, from the IP length (not from the captured bytes).
    public var payloadLength: UInt32 = 0
    public var options = TCPOptions()
    public var ip = IPInfo()
    public var vlans = VLANTags()

    public init() {}
}

/// TCP header parsing (RFC 9293) and the options tshark's analysis depends on.
enum TCPHeader {
    /// Parses the header at `offset`; `reportedLength` is the TCP length from the IP header.
    /// Returns false if the fixed header was not captured or the segment is shorter than its
    /// header (tshark's "short segment": not analysed).
    @inline(__always)
    static func parse(_ p: UnsafeRawPointer, captured: Int, offset: Int, reportedLength: Int,
                      into segment: inout TCPSegment) -> Bool {
        guard captured - offset >= TCPHeaderView.minimumLength else { return false }
        let h = p + offset
        let tcp = TCPHeaderView(h)
        let headerLength = tcp.headerLength
        guard reportedLength >= headerLength else { return false }
        segment.sourcePort = tcp.sourcePort
        segment.destinationPort = tcp.destinationPort
        segment.sequenceNumber = tcp.sequenceNumber
        segment.acknowledgmentNumber = tcp.acknowledgmentNumber
        segment.flags = TCPControlFlags(rawValue: tcp.flagBits)
        segment.window = tcp.window
        segment.headerLength = UInt16(headerLength)
        segment.payloadLength = UInt32(reportedLength - headerLength)
        segment.options = TCPOptions()
        if headerLength < TCPHeaderView.minimumLength || captured - offset < headerLength {
            segment.options.complete = false
        } else if headerLength > TCPHeaderView.minimumLength {
            parseOptions(h + TCPHeaderView.minimumLength, length: headerLength - TCPHeaderView.minimumLength, into: &segment.options)
        }
        return true
    }

    /// Walks the option list. A malformed option ends the walk (as in tshark); options before it
    /// still count.
    @inline(__always)
    static func parseOptions(_ p: UnsafeRawPointer, length: Int, into options: inout TCPOptions) {
        var at = 0
        while at < length {
            let kind = p.u8(at)
            if kind == 0 { return }  // end of option list
            if kind == 1 { at += 1; continue }  // no-operation
            guard at + 2 <= length else { return }
            let size = Int(p.u8(at + 1))
            guard size >= 2, at + size <= length else { return }
            switch kind {
            case 2 where size == 4:
                options.mss = p.be16(at + 2)
            case 3 where size == 3:
                options.windowScale = Int8(truncatingIfNeeded: min(p.u8(at + 2), 127))
            case 4 where size == 2:
                options.sackPermitted = true
            case 5 where (size - 2) % 8 == 0:
                var block = at + 2
                while block + 8 <= at + size {
                    options.appendSACK(left: p.be32(block), right: p.be32(block + 4))
                    block += 8
                }
            case 8 where size == 10:
                options.hasTimestamp = true
                options.timestampValue = p.be32(at + 2)
                options.timestampEcho = p.be32(at + 6)
            default:
                break
            }
            at += size
        }
    }
}
