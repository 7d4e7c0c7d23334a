import Values
import Netlink
import Scenario

/// Turns a scenario's topology into the Netlink module's `Topology`: namespaces, veth links,
/// addresses, sysctls, and the routes every node needs to reach every subnet through forwarding
/// nodes. Only routes to the scenario's own subnets are installed (no default route), so no
/// packet can leave for an address the scenario does not own.
enum NetworkPlan {

    static func topology(_ t: Scenario.Topology) -> Netlink.Topology {
        let nodes = t.nodes.map { node in
            Netlink.Topology.Node(name: node.name,
                                  sysctls: Dictionary(node.sysctls.map { ($0.name, $0.value) }, uniquingKeysWith: { _, last in last }),
                                  forwarding: node.forwarding)
        }
        let links = t.links.map { link in
            Netlink.Topology.Link(
                .init(node: link.a.node, interface: link.a.interface, addresses: link.a.addresses),
                .init(node: link.b.node, interface: link.b.interface, addresses: link.b.addresses),
                mtu: link.mtu.map { UInt32($0) },
                offloadsOff: link.offloads == .off)
        }
        return Netlink.Topology(nodes: nodes, links: links, routes: routes(t))
    }

    static func metrics(_ m: Scenario.Topology.RouteMetrics) -> Netlink.RouteMetrics {
        var out = Netlink.RouteMetrics()
        if let rto = m.rtoMin {
            let ms = rto.components.seconds * 1000 + rto.components.attoseconds / 1_000_000_000_000_000
            out.rtoMinMilliseconds = UInt32(clamping: max(1, ms))
        }
        out.quickack = m.quickAck
        return out
    }

    /// For every node and every subnet it is not on: a route via the first hop of a shortest
    /// path whose intermediate nodes all forward.
    static func routes(_ t: Scenario.Topology) -> [Netlink.Topology.NodeRoute] {
        var result: [Netlink.Topology.NodeRoute] = []
        let forwarding = Set(t.nodes.filter(\.forwarding).map(\.name))
        for node in t.nodes {
            let nodeMetrics = metrics(node.routeMetrics)
            // First hop (link index, neighbour) toward every other node, by BFS.
            var firstHop: [String: (link: Scenario.Topology.Link, neighbour: String)] = [:]
            var queue: [String] = []
            for link in t.links {
                guard let mine = link.end(at: node.name) else { continue }
                let other = mine.node == link.a.node && link.a.node == node.name ? link.b.node : link.a.node
                if firstHop[other] == nil && other != node.name {
                    firstHop[other] = (link, other)
                    queue.append(other)
                }
            }
            var index = 0
            while index < queue.count {
                let current = queue[index]
                index += 1
                guard forwarding.contains(current), let hop = firstHop[current] else { continue }
                for link in t.links {
                    guard link.a.node == current || link.b.node == current else { continue }
                    let next = link.a.node == current ? link.b.node : link.a.node
                    if next != node.name && firstHop[next] == nil {
                        firstHop[next] = hop
                        queue.append(next)
                    }
                }
            }
            for link in t.links {
                if link.end(at: node.name) != nil { continue }
                // The subnet is reachable if either end of the link is.
                let ends = [link.a, link.b]
                guard let reachable = ends.first(where: { firstHop[$0.node] != nil }), let hop = firstHop[reachable.node] else { continue }
                guard let hopEnd = hop.link.end(at: hop.neighbour) else { continue }
                var seen = Set<IPPrefix>()
                for address in link.a.addresses + link.b.addresses {
                    let destination = address.network
                    guard seen.insert(destination).inserted else { continue }
                    guard let gateway = hopEnd.addresses.first(where: { $0.address.family == address.address.family }) else { continue }
                    result.append(.init(node: node.name, route: Route(destination: destination, gateway: gateway.address,
                                                                      metrics: nodeMetrics)))
                }
            }
        }
        return result
    }

    /// Nodes with route metrics (rto_min, quickack): their IPv4 connected subnets, as routes to
    /// put in place of the kernel's (`ip route replace`), so that neighbours on the same link get
    /// the metrics too. (An IPv6 connected route keeps its own metric 256 and is left alone.)
    static func connectedRoutes(_ t: Scenario.Topology) -> [Netlink.Topology.NodeRoute] {
        var result: [Netlink.Topology.NodeRoute] = []
        for node in t.nodes where !node.routeMetrics.isEmpty {
            let nodeMetrics = metrics(node.routeMetrics)
            for end in t.interfaces(of: node.name) {
                for address in end.addresses where address.address.family == .ipv4 {
                    result.append(.init(node: node.name, route: Route(destination: address.network, interface: end.interface,
                                                                      metrics: nodeMetrics)))
                }
            }
        }
        return result
    }

    /// Every address of every node, as text (for flows and detectors).
    static func addresses(_ t: Scenario.Topology) -> [String: [String]] {
        var out: [String: [String]] = [:]
        for node in t.nodes { out[node.name] = t.addresses(of: node.name).map { $0.address.description } }
        return out
    }
}
