import Values
import Dispatch
import Glibc

/// A network to build: nodes (one namespace each), veth links between them with addresses,
/// routes, and per-node sysctls. A plain value; `build()` makes it real as a unit.
public struct Topology: Sendable, Equatable {
    public struct Node: Sendable, Equatable {
        public var name: String
        /// Applied after the links exist (e.g. net.ipv4.tcp_rmem); forwarding is set for routers.
        public var sysctls: [String: String]
        public var forwarding: Bool
        public init(name: String, sysctls: [String: String] = [:], forwarding: Bool = false) {
            self.name = name
            self.sysctls = sysctls
            self.forwarding = forwarding
        }
    }

    /// One end of a link: node, interface name inside that node, addresses on it.
    public struct Endpoint: Sendable, Equatable {
        public var node: String
        public var interface: String
        public var addresses: [IPPrefix]
        public init(node: String, interface: String, addresses: [IPPrefix]) {
            self.node = node
            self.interface = interface
            self.addresses = addresses
        }
    }

    public struct Link: Sendable, Equatable {
        public var a: Endpoint
        public var b: Endpoint
        public var mtu: UInt32?
        /// Segmentation offloads off on both ends, so captures show wire-sized segments.
        public var offloadsOff: Bool
        public init(_ a: Endpoint, _ b: Endpoint, mtu: UInt32? = nil, offloadsOff: Bool = true) {
            self.a = a
            self.b = b
            self.mtu = mtu
            self.offloadsOff = offloadsOff
        }
    }

    public struct NodeRoute: Sendable, Equatable {
        public var node: String
        public var route: Route
        public init(node: String, route: Route) {
            self.node = node
            self.route = route
        }
    }

    public var nodes: [Node]
    public var links: [Link]
    public var routes: [NodeRoute]

    public init(nodes: [Node], links: [Link], routes: [NodeRoute] = []) {
        self.nodes = nodes
        self.links = links
        self.routes = routes
    }

    /// Addresses of the default line, from 198.18.0.0/15 (set aside for test beds) and a
    /// unique-local IPv6 prefix: they exist only inside the line's namespaces.
    public enum LineAddresses {
        public static let clientSide4 = "198.18.1."     // client .2, router .1
        public static let serverSide4 = "198.18.2."     // server .2, router .1
        public static let clientSide6 = "fd00:fa17:1::" // client ::2, router ::1
        public static let serverSide6 = "fd00:fa17:2::" // server ::2, router ::1
    }

    /// client — router — server: `client:eth0` ↔ `router:to-client`, `router:to-server` ↔
    /// `server:eth0`, the router forwarding IPv4 and IPv6, default routes via the router.
    public static func line(offloadsOff: Bool = true, mtu: UInt32? = nil,
                            clientRouteMetrics: RouteMetrics = RouteMetrics(),
                            serverRouteMetrics: RouteMetrics = RouteMetrics()) -> Topology {
        func net(_ text: String) -> IPPrefix {
            guard let network = IPPrefix(text) else { preconditionFailure("bad built-in address \(text)") }
            return network
        }
        func ip(_ text: String) -> IPAddress {
            guard let address = IPAddress(text) else { preconditionFailure("bad built-in address \(text)") }
            return address
        }
        typealias A = LineAddresses
        return Topology(
            nodes: [Node(name: "client"), Node(name: "router", forwarding: true), Node(name: "server")],
            links: [
                Link(Endpoint(node: "client", interface: "eth0", addresses: [net(A.clientSide4 + "2/24"), net(A.clientSide6 + "2/64")]),
                     Endpoint(node: "router", interface: "to-client", addresses: [net(A.clientSide4 + "1/24"), net(A.clientSide6 + "1/64")]),
                     mtu: mtu, offloadsOff: offloadsOff),
                Link(Endpoint(node: "router", interface: "to-server", addresses: [net(A.serverSide4 + "1/24"), net(A.serverSide6 + "1/64")]),
                     Endpoint(node: "server", interface: "eth0", addresses: [net(A.serverSide4 + "2/24"), net(A.serverSide6 + "2/64")]),
                     mtu: mtu, offloadsOff: offloadsOff),
            ],
            routes: [
                NodeRoute(node: "client", route: Route(gateway: ip(A.clientSide4 + "1"), metrics: clientRouteMetrics)),
                NodeRoute(node: "client", route: Route(gateway: ip(A.clientSide6 + "1"), metrics: clientRouteMetrics)),
                NodeRoute(node: "server", route: Route(gateway: ip(A.serverSide4 + "1"), metrics: serverRouteMetrics)),
                NodeRoute(node: "server", route: Route(gateway: ip(A.serverSide6 + "1"), metrics: serverRouteMetrics)),
            ])
    }

    /// Checks names and references before anything is built.
    public func validate() throws(NetlinkError) {
        var seen = Set<String>()
        for node in nodes {
            if !seen.insert(node.name).inserted {
                throw NetlinkError(operation: "build topology", errno: .EINVAL, remedy: "Node \"\(node.name)\" is declared twice")
            }
        }
        for link in links {
            for end in [link.a, link.b] where !seen.contains(end.node) {
                throw NetlinkError(operation: "build topology", errno: .EINVAL,
                                   remedy: "Link end \(end.node):\(end.interface) names a node that does not exist")
            }
        }
        for route in routes where !seen.contains(route.node) {
            throw NetlinkError(operation: "build topology", errno: .EINVAL, remedy: "Route on \"\(route.node)\": no such node")
        }
    }

    /// Builds every namespace, link, address, route and sysctl. On failure, whatever was built
    /// is torn down before the error is thrown.
    /// - Parameter namedWith: if given, namespaces are mounted as `faultline-<pid>-<prefix>-<node>`
    ///   (for labs and `ip netns exec`); otherwise they are anonymous and die with the process.
    public func build(namedWith prefix: String? = nil) throws(NetlinkError) -> Network {
        try validate()
        let network = Network(topology: self)
        do throws(NetlinkError) {
            // Namespace creation is the expensive step (~0.6 ms of kernel work each), and each
            // namespace has its own thread: create and prepare them all at once.
            let prepared = concurrently(nodes) { node throws(NetlinkError) -> (NetworkNamespace, NetlinkHandle) in
                let namespace = try NetworkNamespace.create(name: prefix.map { "\($0)-\(node.name)" }, label: node.name)
                do throws(NetlinkError) {
                    // Interfaces created from now on skip IPv6 duplicate-address detection. Without
                    // this, a router cannot send neighbour solicitations for forwarded packets until
                    // its link-local addresses finish DAD (~2 s): the first IPv6 connections time out.
                    try namespace.setSysctl("net.ipv6.conf.default.accept_dad", "0")
                    if node.forwarding {
                        try namespace.setSysctl("net.ipv4.ip_forward", "1")
                        try namespace.setSysctl("net.ipv6.conf.all.forwarding", "1")
                    }
                    let handle = try namespace.netlink()
                    try handle.setLinkUp("lo")
                    return (namespace, handle)
                } catch {
                    namespace.destroy()
                    throw error
                }
            }
            var firstError: NetlinkError?
            for (node, result) in zip(nodes, prepared) {
                switch result {
                case .success(let (namespace, handle)): network.add(node: node.name, namespace: namespace, handle: handle)
                case .failure(let error): firstError = firstError ?? error
                }
            }
            if let firstError { throw firstError }
            // One handle per node; the veth request goes out on the first end's handle.
            for (number, link) in links.enumerated() {
                let a = try network.namespace(link.a.node)
                let b = try network.namespace(link.b.node)
                // Distinct indexes per end (see VethPair.index): carrier comes up at once.
                let index = Int32(100 + 2 * number)
                try network.handle(link.a.node).addVeth(VethPair(name: link.a.interface, in: a, peer: link.b.interface, in: b,
                                                                 mtu: link.mtu, index: index, peerIndex: index + 1))
            }
            // Then each node configures its own ends, routes and sysctls, all nodes at once.
            let configured = concurrently(nodes) { node throws(NetlinkError) in
                let handle = try network.handle(node.name)
                let namespace = try network.namespace(node.name)
                var ends: [(end: Endpoint, offloadsOff: Bool)] = []
                for link in links {
                    for end in [link.a, link.b] where end.node == node.name { ends.append((end, link.offloadsOff)) }
                }
                for (end, offloadsOff) in ends {
                    if offloadsOff { try namespace.setOffloads(.allOff, interface: end.interface) }
                    let index = try handle.link(end.interface).index
                    for address in end.addresses {
                        try handle.addAddress(InterfaceAddress(interface: end.interface, network: address), interfaceIndex: index)
                    }
                    try handle.setLinkUp(end.interface)
                }
                for (end, _) in ends { try handle.waitUntilOperational(end.interface) }
                for nodeRoute in routes where nodeRoute.node == node.name { try handle.addRoute(nodeRoute.route) }
                for (key, value) in node.sysctls.sorted(by: { $0.key < $1.key }) { try namespace.setSysctl(key, value) }
            }
            for result in configured { if case .failure(let error) = result { throw error } }
        } catch {
            network.teardown()
            throw error
        }
        return network
    }
}

/// A built topology: its namespaces and a netlink handle for each. `teardown()` (or deinit)
/// removes all of it; veth pairs vanish with their namespaces.
public final class Network: @unchecked Sendable {
    public let topology: Topology
    private let lock = PThreadMutex()
    private var namespaces: [String: NetworkNamespace] = [:]
    private var handles: [String: NetlinkHandle] = [:]
    private var order: [String] = []
    private var tornDown = false
    private var pinnedCPU: Int32?

    init(topology: Topology) { self.topology = topology }

    /// The CPU all of the network's senders run on (rootless: `keepFlowsOnOneCPU`), or nil.
    public var flowCPU: Int32? { lock.withLock { pinnedCPU } }
    func setFlowCPU(_ cpu: Int32?) { lock.withLock { pinnedCPU = cpu } }

    func add(node: String, namespace: NetworkNamespace, handle: NetlinkHandle) {
        lock.withLock {
            namespaces[node] = namespace
            handles[node] = handle
            order.append(node)
        }
    }

    public var nodeNames: [String] { lock.withLock { order } }

    /// The namespace of `node`.
    public func namespace(_ node: String) throws(NetlinkError) -> NetworkNamespace {
        guard let namespace = lock.withLock({ namespaces[node] }) else {
            throw NetlinkError(operation: "find node \"\(node)\"", errno: .ENOENT,
                               remedy: "The topology's nodes are: \(nodeNames.joined(separator: ", "))")
        }
        return namespace
    }

    /// A netlink handle in `node`'s namespace (opened once, then reused).
    public func handle(_ node: String) throws(NetlinkError) -> NetlinkHandle {
        if let existing = lock.withLock({ handles[node] }) { return existing }
        let handle = try namespace(node).netlink()
        lock.withLock { handles[node] = handle }
        return handle
    }

    /// The first address of `node` in the given family (the one peers connect to).
    public func address(of node: String, ipv6: Bool = false) -> IPAddress? {
        for link in topology.links {
            for end in [link.a, link.b] where end.node == node {
                if let address = end.addresses.first(where: { $0.address.isIPv6 == ipv6 }) { return address.address }
            }
        }
        return nil
    }

    /// The interface of `node` on its link to `peer` (e.g. router → server: "to-server").
    public func interface(of node: String, toward peer: String) -> String? {
        for link in topology.links {
            if link.a.node == node && link.b.node == peer { return link.a.interface }
            if link.b.node == node && link.a.node == peer { return link.b.interface }
        }
        return nil
    }

    /// Kills processes started in the nodes, then releases every namespace.
    public func teardown() {
        let all: [NetworkNamespace] = lock.withLock {
            if tornDown { return [] }
            tornDown = true
            handles.removeAll()
            return order.reversed().compactMap { namespaces[$0] }
        }
        for namespace in all { namespace.destroy() }
    }

    deinit { teardown() }
}

/// Runs `body` for every element at once (Dispatch worker threads only call into namespace
/// threads here; they never enter a namespace themselves) and returns the results in order.
func concurrently<Element: Sendable, Value>(_ elements: [Element],
                                            _ body: @Sendable (Element) throws(NetlinkError) -> Value) -> [Result<Value, NetlinkError>] {
    let results = ResultSlots<Value>(count: elements.count)
    DispatchQueue.concurrentPerform(iterations: elements.count) { index in
        do throws(NetlinkError) {
            results.set(index, .success(try body(elements[index])))
        } catch {
            results.set(index, .failure(error))
        }
    }
    return results.values
}

private final class ResultSlots<Value>: @unchecked Sendable {
    private let lock = PThreadMutex()
    private var slots: [Result<Value, NetlinkError>?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<Value, NetlinkError>) { lock.withLock { slots[index] = value } }
    var values: [Result<Value, NetlinkError>] {
        lock.withLock { slots.map { $0 ?? .failure(NetlinkError(operation: "prepare namespace", errno: .EINTR)) } }
    }
}
