import Values
/// Per-route TCP metrics Faultline uses to shape failures.
public struct RouteMetrics: Sendable, Equatable {
    /// Minimum retransmission timeout in milliseconds (`ip route ... rto_min 5ms`). Sent with its
    /// RTAX_LOCK bit, without which the kernel ignores it. Applies to connections made afterwards.
    public var rtoMinMilliseconds: UInt32?
    /// Disable delayed ACKs on this route (`quickack 1`).
    public var quickack: Bool?
    public var mtu: UInt32?

    public init(rtoMinMilliseconds: UInt32? = nil, quickack: Bool? = nil, mtu: UInt32? = nil) {
        self.rtoMinMilliseconds = rtoMinMilliseconds
        self.quickack = quickack
        self.mtu = mtu
    }
    public var isEmpty: Bool { rtoMinMilliseconds == nil && quickack == nil && mtu == nil }
}

/// A unicast route in the main table.
public struct Route: Sendable, Equatable, CustomStringConvertible {
    /// nil: the default route of the gateway's family.
    public var destination: IPPrefix?
    public var gateway: IPAddress?
    /// Output interface; required without a gateway.
    public var interface: String?
    public var metrics: RouteMetrics

    public init(destination: IPPrefix? = nil, gateway: IPAddress? = nil, interface: String? = nil,
                metrics: RouteMetrics = RouteMetrics()) {
        self.destination = destination
        self.gateway = gateway
        self.interface = interface
        self.metrics = metrics
    }

    public var description: String {
        var text = destination.map { "\($0)" } ?? "default"
        if let gateway { text += " via \(gateway)" }
        if let interface { text += " dev \(interface)" }
        if let rto = metrics.rtoMinMilliseconds { text += " rto_min lock \(rto)ms" }
        if let quickack = metrics.quickack { text += " quickack \(quickack ? 1 : 0)" }
        return text
    }

    var isIPv6: Bool { destination?.address.isIPv6 ?? gateway?.isIPv6 ?? false }
}

extension NetlinkHandle {
    /// `ip route add ...`; `replace: true` is `ip route replace`.
    public func addRoute(_ route: Route, replace: Bool = false) throws(NetlinkError) {
        guard route.gateway != nil || route.interface != nil else {
            throw NetlinkError(operation: "add route \(route)", errno: .EINVAL, remedy: "A route needs a gateway or an interface")
        }
        let flags = NLM.request | NLM.ack | NLM.create | (replace ? NLM.replace : NLM.excl)
        var message = NetlinkBuilder(type: RTM.newRoute, flags: flags)
        let family = route.isIPv6 ? AF_INET6_U8 : AF_INET_U8
        let scope = route.gateway == nil ? RT_SCOPE_LINK : RT_SCOPE_UNIVERSE
        message.appendHeader(FamilyHeader.rtmsg(family: family, dstLength: route.destination?.prefixLength ?? 0,
                                                protocol: RTPROT_STATIC, scope: scope))
        if let destination = route.destination { message.put(RTA.dst, bytes: destination.network.address.bytes) }
        if let gateway = route.gateway { message.put(RTA.gateway, bytes: gateway.bytes) }
        if let interface = route.interface { message.put(RTA.oif, u32: UInt32(bitPattern: try link(interface).index)) }
        if !route.metrics.isEmpty {
            message.nest(RTA.metrics) { metrics in
                if route.metrics.rtoMinMilliseconds != nil { metrics.put(RTAX.lock, u32: 1 << UInt32(RTAX.rtoMin)) }
                if let rto = route.metrics.rtoMinMilliseconds { metrics.put(RTAX.rtoMin, u32: rto) }
                if let quickack = route.metrics.quickack { metrics.put(RTAX.quickack, u32: quickack ? 1 : 0) }
                if let mtu = route.metrics.mtu { metrics.put(RTAX.mtu, u32: mtu) }
            }
        }
        try request(message, "\(replace ? "replace" : "add") route \(route)")
    }

    /// Routes of the main table, with their metrics as the kernel stores them.
    public func routes(ipv6: Bool = false) throws(NetlinkError) -> [Route] {
        let names = Dictionary(try links().map { ($0.index, $0.name) }, uniquingKeysWith: { first, _ in first })
        var message = NetlinkBuilder(type: RTM.getRoute, flags: NLM.request | NLM.dump)
        message.appendHeader(FamilyHeader.rtmsg(family: ipv6 ? AF_INET6_U8 : AF_INET_U8))
        var result: [Route] = []
        for reply in try dump(message, "list routes") where reply.type == RTM.newRoute {
            let payload = reply.payload
            guard payload.count >= 12 else { continue }
            let base = payload.startIndex
            let dstLength = payload[base + 1]
            let table = payload[base + 4]
            let type = payload[base + 7]
            guard table == RT_TABLE_MAIN, type == RTN_UNICAST else { continue }
            var route = Route()
            for attribute in NetlinkAttributes(payload.dropFirst(12)) {
                switch attribute.type {
                case RTA.dst:
                    route.destination = IPAddress(bytes: attribute.payload).map { IPPrefix(address: $0, prefixLength: dstLength) }
                case RTA.gateway: route.gateway = IPAddress(bytes: attribute.payload)
                case RTA.oif: route.interface = attribute.u32.flatMap { names[Int32(bitPattern: $0)] }
                case RTA.metrics:
                    for metric in attribute.nested {
                        switch metric.type {
                        case RTAX.rtoMin: route.metrics.rtoMinMilliseconds = metric.u32
                        case RTAX.quickack: route.metrics.quickack = metric.u32.map { $0 != 0 }
                        case RTAX.mtu: route.metrics.mtu = metric.u32
                        default: break
                        }
                    }
                default: break
                }
            }
            result.append(route)
        }
        return result
    }

    /// The RTAX_LOCK bitmask of the route to `destination` (nil = default), to check that a
    /// metric is really locked.
    public func lockedMetrics(destination: IPPrefix?, ipv6: Bool = false) throws(NetlinkError) -> UInt32 {
        var message = NetlinkBuilder(type: RTM.getRoute, flags: NLM.request | NLM.dump)
        message.appendHeader(FamilyHeader.rtmsg(family: ipv6 ? AF_INET6_U8 : AF_INET_U8))
        for reply in try dump(message, "list routes") where reply.type == RTM.newRoute {
            let payload = reply.payload
            guard payload.count >= 12, payload[payload.startIndex + 4] == RT_TABLE_MAIN else { continue }
            let attributes = NetlinkAttributes(payload.dropFirst(12))
            let dst = attributes.first(RTA.dst).map { Array($0.payload) }
            if dst != destination.map({ $0.network.address.bytes }) { continue }
            return attributes.first(RTA.metrics)?.nested.first(RTAX.lock)?.u32 ?? 0
        }
        return 0
    }
}
