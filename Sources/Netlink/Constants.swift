// Values from the kernel's UAPI headers (linux/netlink.h, rtnetlink.h, if_link.h, if_addr.h,
// veth.h, pkt_sched.h), typed once here: imported C constants arrive as Int, Int32 or structs.

enum NLM {
    static let request: UInt16 = 0x1, multi: UInt16 = 0x2, ack: UInt16 = 0x4
    static let root: UInt16 = 0x100, match: UInt16 = 0x200, dump: UInt16 = 0x300
    static let replace: UInt16 = 0x100, excl: UInt16 = 0x200, create: UInt16 = 0x400
}

enum RTM {
    static let newLink: UInt16 = 16, delLink: UInt16 = 17, getLink: UInt16 = 18
    static let newAddr: UInt16 = 20, delAddr: UInt16 = 21, getAddr: UInt16 = 22
    static let newRoute: UInt16 = 24, delRoute: UInt16 = 25, getRoute: UInt16 = 26
    static let newQdisc: UInt16 = 36, delQdisc: UInt16 = 37, getQdisc: UInt16 = 38
}

enum IFLA {
    static let address: UInt16 = 1, ifname: UInt16 = 3, mtu: UInt16 = 4, link: UInt16 = 5
    static let operstate: UInt16 = 16, linkinfo: UInt16 = 18, netNsFd: UInt16 = 28
    static let gsoMaxSegs: UInt16 = 40, gsoMaxSize: UInt16 = 41
    static let infoKind: UInt16 = 1, infoData: UInt16 = 2
    static let vethInfoPeer: UInt16 = 1
}

enum IFA {
    static let address: UInt16 = 1, local: UInt16 = 2, flags: UInt16 = 8
    static let fNoDAD: UInt32 = 0x02, fPermanent: UInt32 = 0x80
}

enum RTA {
    static let dst: UInt16 = 1, oif: UInt16 = 4, gateway: UInt16 = 5, priority: UInt16 = 6
    static let metrics: UInt16 = 8, table: UInt16 = 15
}

enum RTAX {
    static let lock: UInt16 = 1, mtu: UInt16 = 2, rtoMin: UInt16 = 13, quickack: UInt16 = 15
}

enum TCA {
    static let kind: UInt16 = 1, options: UInt16 = 2
}

let IFF_UP: UInt32 = 0x1
let AF_INET_U8: UInt8 = 2
let AF_INET6_U8: UInt8 = 10
let RT_TABLE_MAIN: UInt8 = 254
let RTPROT_BOOT: UInt8 = 3
let RTPROT_STATIC: UInt8 = 4
let RT_SCOPE_UNIVERSE: UInt8 = 0
let RT_SCOPE_LINK: UInt8 = 253
let RTN_UNICAST: UInt8 = 1

/// Family headers as bytes, little-endian as the kernel expects on this host.
enum FamilyHeader {
    /// struct ifinfomsg (16 bytes)
    static func ifinfomsg(family: UInt8 = 0, index: Int32 = 0, flags: UInt32 = 0, change: UInt32 = 0) -> [UInt8] {
        [family, 0, 0, 0] + NetlinkBuilder.le(index) + NetlinkBuilder.le(flags) + NetlinkBuilder.le(change)
    }
    /// struct ifaddrmsg (8 bytes)
    static func ifaddrmsg(family: UInt8, prefixLength: UInt8, flags: UInt8 = 0, scope: UInt8 = 0, index: UInt32) -> [UInt8] {
        [family, prefixLength, flags, scope] + NetlinkBuilder.le(index)
    }
    /// struct rtmsg (12 bytes)
    static func rtmsg(family: UInt8, dstLength: UInt8 = 0, table: UInt8 = RT_TABLE_MAIN, protocol: UInt8 = RTPROT_BOOT,
                      scope: UInt8 = RT_SCOPE_UNIVERSE, type: UInt8 = RTN_UNICAST) -> [UInt8] {
        [family, dstLength, 0, 0, table, `protocol`, scope, type] + NetlinkBuilder.le(UInt32(0))
    }
    /// struct tcmsg (20 bytes)
    static func tcmsg(index: Int32, handle: UInt32, parent: UInt32) -> [UInt8] {
        [0, 0, 0, 0] + NetlinkBuilder.le(index) + NetlinkBuilder.le(handle) + NetlinkBuilder.le(parent) + NetlinkBuilder.le(UInt32(0))
    }
}
