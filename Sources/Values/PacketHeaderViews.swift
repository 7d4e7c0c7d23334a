/// Named fields of the IP and transport headers, read in place from packet bytes (network
/// order, unaligned, no copy). A view does not check bounds: its caller checks that
/// `minimumLength` bytes (and, for IPv4 and TCP, `headerLength`) are there before reading.
/// Shared by the analyzer's decoder and the userspace engine's per-packet path.

/// An IPv4 header (RFC 791).
public struct IPv4HeaderView {
    public let base: UnsafeRawPointer
    @inlinable public init(_ base: UnsafeRawPointer) { self.base = base }

    public static let minimumLength = 20
    /// Byte offsets of the fields a writer changes in place.
    public static let typeOfServiceOffset = 1
    public static let checksumOffset = 10
    /// The fields the TCP/UDP pseudo-header takes: source and destination, 8 bytes.
    public static let addressesOffset = 12

    /// 4 for IPv4 (the high nibble of the first byte).
    @inlinable public var version: UInt8 { base.load(as: UInt8.self) >> 4 }
    /// IHL × 4: 20 to 60 bytes.
    @inlinable public var headerLength: Int { Int(base.load(as: UInt8.self) & 0x0F) * 4 }
    /// DSCP and ECN (the former type of service).
    @inlinable public var trafficClass: UInt8 { base.load(fromByteOffset: 1, as: UInt8.self) }
    /// The ECN field: 0 not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
    @inlinable public var ecn: UInt8 { trafficClass & 0x03 }
    @inlinable public var totalLength: UInt16 { be16(2) }
    @inlinable public var identification: UInt16 { be16(4) }
    /// Flags (reserved, DF, MF) and the fragment offset, as one 16-bit field.
    @inlinable public var flagsAndFragmentOffset: UInt16 { be16(6) }
    /// The fragment offset in 8-byte units (0 for a first or whole datagram).
    @inlinable public var fragmentOffset: UInt16 { flagsAndFragmentOffset & 0x1FFF }
    /// More-fragments set or a non-zero offset: a piece of a datagram.
    @inlinable public var isFragment: Bool { flagsAndFragmentOffset & 0x3FFF != 0 }
    @inlinable public var timeToLive: UInt8 { base.load(fromByteOffset: 8, as: UInt8.self) }
    /// The transport's IP protocol number (6 TCP, 17 UDP, 1 ICMP).
    @inlinable public var transportProtocol: UInt8 { base.load(fromByteOffset: 9, as: UInt8.self) }
    @inlinable public var checksum: UInt16 { be16(10) }
    @inlinable public var source: IPAddress { IPAddress(ipv4: be32(12)) }
    @inlinable public var destination: IPAddress { IPAddress(ipv4: be32(16)) }

    @inlinable func be16(_ offset: Int) -> UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inlinable func be32(_ offset: Int) -> UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
}

/// An IPv6 fixed header (RFC 8200); extension headers follow at `length`.
public struct IPv6HeaderView {
    public let base: UnsafeRawPointer
    @inlinable public init(_ base: UnsafeRawPointer) { self.base = base }

    public static let length = 40
    public static let minimumLength = 40
    /// The fields the TCP/UDP pseudo-header takes: source and destination, 32 bytes.
    public static let addressesOffset = 8
    /// The byte holding the ECN bits (bits 4-5; the traffic class straddles bytes 0 and 1).
    public static let ecnByteOffset = 1

    @inlinable var firstWord: UInt32 { UInt32(bigEndian: base.loadUnaligned(as: UInt32.self)) }
    /// 6 for IPv6.
    @inlinable public var version: UInt8 { base.load(as: UInt8.self) >> 4 }
    @inlinable public var trafficClass: UInt8 { UInt8(truncatingIfNeeded: firstWord >> 20) }
    /// The ECN field: 0 not-ECT, 1 ECT(1), 2 ECT(0), 3 CE.
    @inlinable public var ecn: UInt8 { trafficClass & 0x03 }
    @inlinable public var flowLabel: UInt32 { firstWord & 0xF_FFFF }
    /// Bytes after the fixed header (extension headers included).
    @inlinable public var payloadLength: UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) }
    @inlinable public var nextHeader: UInt8 { base.load(fromByteOffset: 6, as: UInt8.self) }
    @inlinable public var hopLimit: UInt8 { base.load(fromByteOffset: 7, as: UInt8.self) }
    @inlinable public var source: IPAddress { IPAddress(ipv6High: be64(8), low: be64(16)) }
    @inlinable public var destination: IPAddress { IPAddress(ipv6High: be64(24), low: be64(32)) }

    @inlinable func be64(_ offset: Int) -> UInt64 { UInt64(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) }
}

/// An IPv6 extension header that may sit between the fixed header and the transport.
public struct IPv6ExtensionHeaderView {
    public let base: UnsafeRawPointer
    @inlinable public init(_ base: UnsafeRawPointer) { self.base = base }

    public static let hopByHop: UInt8 = 0
    public static let routing: UInt8 = 43
    public static let fragment: UInt8 = 44
    public static let authentication: UInt8 = 51
    public static let destinationOptions: UInt8 = 60

    /// Bytes an extension header needs before its length can be read (next header, length).
    public static let minimumLength = 2
    /// A Fragment header's fixed size.
    public static let fragmentLength = 8

    @inlinable public var nextHeader: UInt8 { base.load(as: UInt8.self) }
    /// The header's whole length for `kind`: 8-byte units (+1) for hop-by-hop, routing and
    /// destination options; 4-byte units (+2) for AH; 8 for a Fragment header.
    @inlinable public func length(kind: UInt8) -> Int {
        let units = Int(base.load(fromByteOffset: 1, as: UInt8.self))
        switch kind {
        case Self.authentication: return (units + 2) * 4
        case Self.fragment: return Self.fragmentLength
        default: return (units + 1) * 8
        }
    }
    /// Fragment header: the offset (8-byte units, shifted left 3) and the M flag, as one field.
    @inlinable public var fragmentOffsetAndFlags: UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
    /// Fragment header: the offset in bytes (0 for the first piece or an atomic fragment).
    @inlinable public var fragmentOffset: UInt16 { fragmentOffsetAndFlags & 0xFFF8 }
    /// Fragment header: the identification.
    @inlinable public var fragmentIdentification: UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) }
}

/// A TCP header (RFC 9293); options follow the first 20 bytes up to `headerLength`.
public struct TCPHeaderView {
    public let base: UnsafeRawPointer
    @inlinable public init(_ base: UnsafeRawPointer) { self.base = base }

    public static let minimumLength = 20
    public static let checksumOffset = 16

    @inlinable public var sourcePort: UInt16 { be16(0) }
    @inlinable public var destinationPort: UInt16 { be16(2) }
    @inlinable public var sequenceNumber: UInt32 { be32(4) }
    @inlinable public var acknowledgmentNumber: UInt32 { be32(8) }
    /// Data offset × 4: 20 to 60 bytes.
    @inlinable public var headerLength: Int { Int(base.load(fromByteOffset: 12, as: UInt8.self) >> 4) * 4 }
    /// The eight classic flags (CWR ECE URG ACK PSH RST SYN FIN), one byte.
    @inlinable public var flags: UInt8 { base.load(fromByteOffset: 13, as: UInt8.self) }
    /// The twelve bits after the data offset: the flags with AE and the reserved bits.
    @inlinable public var flagBits: UInt16 { be16(12) & 0x0FFF }
    @inlinable public var window: UInt16 { be16(14) }
    @inlinable public var checksum: UInt16 { be16(16) }
    @inlinable public var urgentPointer: UInt16 { be16(18) }

    @inlinable func be16(_ offset: Int) -> UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) }
    @inlinable func be32(_ offset: Int) -> UInt32 { UInt32(bigEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self)) }
}

/// A UDP header (RFC 768).
public struct UDPHeaderView {
    public let base: UnsafeRawPointer
    @inlinable public init(_ base: UnsafeRawPointer) { self.base = base }

    public static let length = 8

    @inlinable public var sourcePort: UInt16 { UInt16(bigEndian: base.loadUnaligned(as: UInt16.self)) }
    @inlinable public var destinationPort: UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 2, as: UInt16.self)) }
    /// Header and payload, in bytes.
    @inlinable public var datagramLength: UInt16 { UInt16(bigEndian: base.loadUnaligned(fromByteOffset: 4, as: UInt16.self)) }
}

/// IP protocol numbers the views' users switch on.
public enum IPProtocolNumber {
    public static let icmp: UInt8 = 1
    public static let tcp: UInt8 = 6
    public static let udp: UInt8 = 17
    public static let icmpv6: UInt8 = 58
}
