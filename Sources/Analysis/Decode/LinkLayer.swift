/// Finds the network-layer header behind each supported link-layer header.
public enum LinkLayer {
    public static let etherTypeIPv4: UInt16 = 0x0800
    public static let etherTypeIPv6: UInt16 = 0x86DD

    /// Returns the offset of the network header and its EtherType, or nil when the frame is not
    /// IP or is too short. 802.1Q / 802.1ad / QinQ tags are skipped and recorded in `vlans`.
    @inline(__always)
    public static func networkHeader(_ p: UnsafeRawPointer, count: Int, linkType: LinkType,
                                     vlans: inout VLANTags) -> (offset: Int, etherType: UInt16)? {
        switch linkType.rawValue {
        case 1:  // Ethernet II
            guard count >= 14 else { return nil }
            return skipVLANTags(p, count: count, typeOffset: 12, vlans: &vlans)
        case 113:  // Linux cooked v1: protocol at 14, header 16 bytes
            guard count >= 16 else { return nil }
            return skipVLANTags(p, count: count, typeOffset: 14, vlans: &vlans)
        case 276:  // Linux cooked v2: protocol at 0, header 20 bytes
            guard count >= 20 else { return nil }
            let type = p.be16(0)
            if isVLAN(type) {
                guard count >= 24 else { return nil }
                vlans.append(p.be16(20) & 0x0FFF)
                return skipVLANTags(p, count: count, typeOffset: 22, vlans: &vlans)
            }
            return (20, type)
        case 0:  // BSD NULL: address family in the capturing host's byte order
            guard count >= 4 else { return nil }
            var family = p.le32(0)
            if family > 0xFFFF { family = family.byteSwapped }
            return familyHeader(family)
        case 108:  // OpenBSD LOOP: address family, big-endian
            guard count >= 4 else { return nil }
            return familyHeader(p.be32(0))
        case 101:  // raw IP, version from the first nibble
            guard count >= 1 else { return nil }
            switch p.u8(0) >> 4 {
            case 4: return (0, etherTypeIPv4)
            case 6: return (0, etherTypeIPv6)
            default: return nil
            }
        case 228: return (0, etherTypeIPv4)
        case 229: return (0, etherTypeIPv6)
        default: return nil
        }
    }

    @inline(__always)
    static func isVLAN(_ type: UInt16) -> Bool {
        type == 0x8100 || type == 0x88A8 || type == 0x9100
    }

    /// Reads the EtherType at `typeOffset`, skipping any stack of VLAN tags after it.
    @inline(__always)
    static func skipVLANTags(_ p: UnsafeRawPointer, count: Int, typeOffset: Int,
                             vlans: inout VLANTags) -> (offset: Int, etherType: UInt16)? {
        var at = typeOffset
        var type = p.be16(at)
        while isVLAN(type) {
            guard at + 6 <= count else { return nil }
            vlans.append(p.be16(at + 2) & 0x0FFF)
            at += 4
            type = p.be16(at)
        }
        return (at + 2, type)
    }

    /// BSD address families: AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD,
    /// OpenBSD), 28 (FreeBSD), 30 (macOS).
    @inline(__always)
    static func familyHeader(_ family: UInt32) -> (offset: Int, etherType: UInt16)? {
        switch family {
        case 2: return (4, etherTypeIPv4)
        case 10, 24, 28, 30: return (4, etherTypeIPv6)
        default: return nil
        }
    }
}

/// Up to two VLAN IDs (outer first) found in front of the IP header.
public struct VLANTags: Sendable, Equatable {
    public var count: UInt8 = 0
    public var outer: UInt16 = 0
    public var inner: UInt16 = 0

    public init() {}

    @inline(__always)
    mutating func append(_ id: UInt16) {
        if count == 0 { outer = id } else if count == 1 { inner = id }
        count &+= 1
    }
}
