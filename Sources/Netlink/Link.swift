import CLinux
import Glibc

/// A network interface as the kernel reports it.
public struct Link: Sendable, Equatable, CustomStringConvertible {
    public var index: Int32
    public var name: String
    public var mtu: UInt32
    public var isUp: Bool
    /// "veth", "dummy", ... (nil for loopback and devices without link info).
    public var kind: String?
    /// RFC 2863 operational state (IFLA_OPERSTATE): 6 is up — carrier on and the qdisc active,
    /// so packets sent now are not silently dropped by the "noop" qdisc of a link still coming up.
    public var operationalState: UInt8 = 0
    public var isOperationallyUp: Bool { operationalState == 6 }

    public var description: String { "\(name)#\(index) mtu \(mtu) \(isUp ? "up" : "down")\(kind.map { " (\($0))" } ?? "")" }
}

/// A veth pair with each end created straight into its namespace, in one request.
public struct VethPair: Sendable {
    public var name: String
    public var namespace: NetworkNamespace
    public var peerName: String
    public var peerNamespace: NetworkNamespace
    public var mtu: UInt32?
    /// Interface indexes to ask for (0: the kernel picks). Two ends with *different* indexes
    /// matter: the kernel treats carrier changes of a stacked device whose index equals its
    /// peer's (both "2" in fresh namespaces) as non-urgent and batches them up to a second later.
    public var index: Int32
    public var peerIndex: Int32

    public init(name: String, in namespace: NetworkNamespace, peer peerName: String,
                in peerNamespace: NetworkNamespace, mtu: UInt32? = nil, index: Int32 = 0, peerIndex: Int32 = 0) {
        self.name = name
        self.namespace = namespace
        self.peerName = peerName
        self.peerNamespace = peerNamespace
        self.mtu = mtu
        self.index = index
        self.peerIndex = peerIndex
    }
}

extension NetlinkHandle {
    /// Creates both ends of a veth pair in their namespaces with one RTM_NEWLINK
    /// (IFLA_NET_NS_FD at the top level and inside VETH_INFO_PEER): no move step.
    public func addVeth(_ pair: VethPair) throws(NetlinkError) {
        try validate(interfaceName: pair.name)
        try validate(interfaceName: pair.peerName)
        var message = NetlinkBuilder(type: RTM.newLink, flags: NLM.request | NLM.ack | NLM.create | NLM.excl)
        message.appendHeader(FamilyHeader.ifinfomsg(index: pair.index))
        message.put(IFLA.ifname, string: pair.name)
        message.put(IFLA.netNsFd, u32: UInt32(bitPattern: pair.namespace.fd))
        if let mtu = pair.mtu { message.put(IFLA.mtu, u32: mtu) }
        message.nest(IFLA.linkinfo) { info in
            info.put(IFLA.infoKind, string: "veth")
            info.nest(IFLA.infoData) { data in
                data.nest(IFLA.vethInfoPeer) { peer in
                    peer.appendHeader(FamilyHeader.ifinfomsg(index: pair.peerIndex))
                    peer.put(IFLA.ifname, string: pair.peerName)
                    peer.put(IFLA.netNsFd, u32: UInt32(bitPattern: pair.peerNamespace.fd))
                    if let mtu = pair.mtu { peer.put(IFLA.mtu, u32: mtu) }
                }
            }
        }
        try request(message, "create veth \"\(pair.name)\" (\(pair.namespace.label)) <-> \"\(pair.peerName)\" (\(pair.peerNamespace.label))")
    }

    /// Brings a link up (`ip link set NAME up`).
    public func setLinkUp(_ name: String) throws(NetlinkError) {
        try setFlags(name, up: true)
    }

    /// Takes a link down.
    public func setLinkDown(_ name: String) throws(NetlinkError) {
        try setFlags(name, up: false)
    }

    private func setFlags(_ name: String, up: Bool) throws(NetlinkError) {
        var message = NetlinkBuilder(type: RTM.newLink, flags: NLM.request | NLM.ack)
        message.appendHeader(FamilyHeader.ifinfomsg(flags: up ? IFF_UP : 0, change: IFF_UP))
        message.put(IFLA.ifname, string: name)
        try request(message, "set link \"\(name)\" \(up ? "up" : "down")")
    }

    public func setMTU(_ name: String, _ mtu: UInt32) throws(NetlinkError) {
        var message = NetlinkBuilder(type: RTM.newLink, flags: NLM.request | NLM.ack)
        message.appendHeader(FamilyHeader.ifinfomsg())
        message.put(IFLA.ifname, string: name)
        message.put(IFLA.mtu, u32: mtu)
        try request(message, "set mtu \(mtu) on \"\(name)\"")
    }

    /// Limits the size of GSO packets the stack builds for this link (one MSS per packet with
    /// segments = 1), so captures show wire-sized segments even where offloads can't be switched off.
    public func setGSOLimits(_ name: String, maxSegments: UInt32, maxSize: UInt32) throws(NetlinkError) {
        var message = NetlinkBuilder(type: RTM.newLink, flags: NLM.request | NLM.ack)
        message.appendHeader(FamilyHeader.ifinfomsg())
        message.put(IFLA.ifname, string: name)
        message.put(IFLA.gsoMaxSegs, u32: maxSegments)
        message.put(IFLA.gsoMaxSize, u32: maxSize)
        try request(message, "set gso limits on \"\(name)\"")
    }

    /// Waits until the link is operationally up (both veth ends up, carrier on). The kernel
    /// finishes this asynchronously after "set up"; traffic sent before it is dropped.
    public func waitUntilOperational(_ name: String, timeoutNanoseconds: UInt64 = 5_000_000_000) throws(NetlinkError) {
        let deadline = fl_monotonic_ns() + timeoutNanoseconds
        while true {
            if try link(name).isOperationallyUp { return }
            if fl_monotonic_ns() >= deadline {
                throw NetlinkError(operation: "wait for \"\(name)\" in \(namespace.label) to come up", errno: .ETIMEDOUT,
                                   remedy: "The link is up but has no carrier: is its peer up?")
            }
            usleep(100)
        }
    }

    public func deleteLink(_ name: String) throws(NetlinkError) {
        var message = NetlinkBuilder(type: RTM.delLink, flags: NLM.request | NLM.ack)
        message.appendHeader(FamilyHeader.ifinfomsg())
        message.put(IFLA.ifname, string: name)
        try request(message, "delete link \"\(name)\"")
    }

    /// One link by name.
    public func link(_ name: String) throws(NetlinkError) -> Link {
        var message = NetlinkBuilder(type: RTM.getLink, flags: NLM.request)
        message.appendHeader(FamilyHeader.ifinfomsg())
        message.put(IFLA.ifname, string: name)
        let replies = try dump(message, "look up link \"\(name)\"")
        guard let reply = replies.first(where: { $0.type == RTM.newLink }), let link = Self.parseLink(reply.payload) else {
            throw NetlinkError(operation: "look up link \"\(name)\" in \(namespace.label)", errno: .ENODEV)
        }
        return link
    }

    /// Every link in the namespace.
    public func links() throws(NetlinkError) -> [Link] {
        var message = NetlinkBuilder(type: RTM.getLink, flags: NLM.request | NLM.dump)
        message.appendHeader(FamilyHeader.ifinfomsg())
        return try dump(message, "list links").compactMap { $0.type == RTM.newLink ? Self.parseLink($0.payload) : nil }
    }

    static func parseLink(_ payload: ArraySlice<UInt8>) -> Link? {
        guard payload.count >= 16 else { return nil }
        let index = payload.le(Int32.self, at: 4)
        let flags = payload.le(UInt32.self, at: 8)
        var link = Link(index: index, name: "", mtu: 0, isUp: flags & IFF_UP != 0, kind: nil)
        for attribute in NetlinkAttributes(payload.dropFirst(16)) {
            switch attribute.type {
            case IFLA.ifname: link.name = attribute.string
            case IFLA.mtu: link.mtu = attribute.u32 ?? 0
            case IFLA.linkinfo: link.kind = attribute.nested.first(IFLA.infoKind)?.string
            case IFLA.operstate: link.operationalState = attribute.u8 ?? 0
            default: break
            }
        }
        return link
    }

    func validate(interfaceName name: String) throws(NetlinkError) {
        if name.isEmpty || name.utf8.count > 15 || name.contains("/") || name.contains(where: { $0.isWhitespace }) {
            throw NetlinkError(operation: "use interface name \"\(name)\"", errno: .EINVAL,
                               remedy: "Interface names are 1 to 15 bytes without '/' or spaces")
        }
    }
}
