import Values
/// An address assigned to an interface.
public struct InterfaceAddress: Sendable, Equatable, CustomStringConvertible {
    public var interface: String
    public var network: IPPrefix
    public init(interface: String, network: IPPrefix) {
        self.interface = interface
        self.network = network
    }
    public var description: String { "\(network) dev \(interface)" }
}

extension NetlinkHandle {
    /// `ip addr add CIDR dev IF`. IPv6 addresses skip duplicate-address detection (IFA_F_NODAD) so
    /// they are usable at once instead of after ~1 s of "tentative".
    public func addAddress(_ address: InterfaceAddress) throws(NetlinkError) {
        try addAddress(address, interfaceIndex: try link(address.interface).index)
    }

    /// As `addAddress(_:)`, with the interface's index already known (saves a lookup).
    public func addAddress(_ address: InterfaceAddress, interfaceIndex index: Int32) throws(NetlinkError) {
        let ip = address.network.address
        var message = NetlinkBuilder(type: RTM.newAddr, flags: NLM.request | NLM.ack | NLM.create | NLM.excl)
        message.appendHeader(FamilyHeader.ifaddrmsg(family: ip.addressFamily, prefixLength: address.network.prefixLength,
                                                    index: UInt32(bitPattern: index)))
        message.put(IFA.local, bytes: ip.bytes)
        message.put(IFA.address, bytes: ip.bytes)
        if ip.isIPv6 { message.put(IFA.flags, u32: IFA.fNoDAD) }
        try request(message, "add address \(address.network) to \"\(address.interface)\"")
    }

    /// Addresses in the namespace (both families), optionally of one interface.
    public func addresses(interface: String? = nil) throws(NetlinkError) -> [InterfaceAddress] {
        let links = try self.links()
        let names = Dictionary(links.map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        var message = NetlinkBuilder(type: RTM.getAddr, flags: NLM.request | NLM.dump)
        message.appendHeader(FamilyHeader.ifaddrmsg(family: 0, prefixLength: 0, index: 0))
        var result: [InterfaceAddress] = []
        for reply in try dump(message, "list addresses") where reply.type == RTM.newAddr {
            let payload = reply.payload
            guard payload.count >= 8 else { continue }
            let family = payload[payload.startIndex]
            let prefix = payload[payload.startIndex + 1]
            let index = Int32(bitPattern: payload.le(UInt32.self, at: 4))
            let attributes = NetlinkAttributes(payload.dropFirst(8))
            guard let raw = (attributes.first(IFA.local) ?? attributes.first(IFA.address)).map({ Array($0.payload) }),
                  let ip = IPAddress(bytes: raw), ip.isIPv6 == (family == AF_INET6_U8) else { continue }
            let name = names[index] ?? "#\(index)"
            if let interface, interface != name { continue }
            result.append(InterfaceAddress(interface: name, network: IPPrefix(address: ip, prefixLength: prefix)))
        }
        return result
    }
}

extension IPAddress {
    /// AF_INET or AF_INET6, as netlink's family headers carry it.
    var addressFamily: UInt8 { isIPv6 ? AF_INET6_U8 : AF_INET_U8 }
}
