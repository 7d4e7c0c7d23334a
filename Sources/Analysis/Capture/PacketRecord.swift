/// A link-layer header type, as numbered by tcpdump.org's LINKTYPE_* registry.
public struct LinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// BSD loopback: a 4-byte address family in the *capturing host's* byte order.
    public static let null = LinkType(rawValue: 0)
    public static let ethernet = LinkType(rawValue: 1)
    /// Raw IP, version taken from the first nibble.
    public static let raw = LinkType(rawValue: 101)
    /// OpenBSD loopback: like `null` but the family is big-endian.
    public static let loop = LinkType(rawValue: 108)
    public static let linuxCooked = LinkType(rawValue: 113)
    public static let rawIPv4 = LinkType(rawValue: 228)
    public static let rawIPv6 = LinkType(rawValue: 229)
    public static let linuxCookedV2 = LinkType(rawValue: 276)

    /// Whether `PacketDecoder` understands this link type.
    public var isSupported: Bool {
        switch rawValue {
        case 0, 1, 101, 108, 113, 228, 229, 276: return true
        default: return false
        }
    }

    public var description: String {
        switch rawValue {
        case 0: return "NULL"
        case 1: return "EN10MB"
        case 101: return "RAW"
        case 108: return "LOOP"
        case 113: return "LINUX_SLL"
        case 228: return "IPV4"
        case 229: return "IPV6"
        case 276: return "LINUX_SLL2"
        default: return "LINKTYPE_\(rawValue)"
        }
    }
}

/// One frame as stored in a capture file.
///
/// `bytes` points into the reader's buffer: it is valid only until the reader's next `next()`.
/// Copy what you need to keep. Nothing here allocates, so reading costs no heap traffic per packet.
public struct PacketRecord {
    /// 1-based frame number, counted over every record in the file (as tshark numbers frames).
    public var frameNumber: UInt64
    /// Capture time, nanoseconds since the Unix epoch (0 when the record has no timestamp).
    public var timestamp: Int64
    /// Bytes present in the file (`bytes.count`).
    public var capturedLength: Int { bytes.count }
    /// Length of the frame on the wire. Larger than `capturedLength` when the snap length cut it.
    public var originalLength: Int
    /// pcapng interface index (always 0 for pcap).
    public var interfaceID: UInt32
    public var linkType: LinkType
    /// The captured bytes.
    public var bytes: UnsafeRawBufferPointer
    /// File offset of the record (its pcap record header or pcapng block).
    public var fileOffset: Int
    /// The pcapng `opt_comment` of the record, raw UTF-8, valid as long as `bytes`.
    public var commentBytes: UnsafeRawBufferPointer?

    /// `commentBytes` decoded (allocates: call only when needed).
    public var comment: String? {
        commentBytes.map { String(decoding: $0, as: UTF8.self) }
    }
}
