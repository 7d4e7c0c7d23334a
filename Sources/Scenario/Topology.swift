import Values
extension Scenario {
    /// The network a scenario runs on: nodes (one network namespace each) joined by links (one
    /// veth pair each), every end with its interface name and addresses.
    ///
    /// Always fully resolved: the default line (`topology: line`, or no `topology` key) arrives
    /// here as its three nodes and two links with their default addresses, exactly like an
    /// explicit topology, so the runner builds one shape. The defaults match `Netlink.Topology.line`
    /// (router .1 and ::1 on both links, client and server .2 and ::2, router interfaces
    /// `to-client` and `to-server`).
    public struct Topology: Sendable, Hashable {
        /// How the file described it: the default line (possibly adjusted) or explicit nodes and links.
        public enum Origin: Sendable, Hashable {
            case line
            case explicit
        }

        public var origin: Origin
        /// In file order (for the line: client, router, server).
        public var nodes: [Node]
        /// In file order (for the line: client-router, router-server).
        public var links: [Link]

        public init(origin: Origin, nodes: [Node], links: [Link]) {
            self.origin = origin
            self.nodes = nodes
            self.links = links
        }

        public func node(named name: String) -> Node? { nodes.first { $0.name == name } }

        /// The link between two nodes, in either order.
        public func link(between a: String, and b: String) -> Link? {
            links.first { ($0.a.node == a && $0.b.node == b) || ($0.a.node == b && $0.b.node == a) }
        }

        /// Every interface of a node, in link order.
        public func interfaces(of node: String) -> [LinkEnd] {
            links.flatMap { [$0.a, $0.b] }.filter { $0.node == node }
        }

        /// Every address of a node, on all its interfaces, in link order.
        public func addresses(of node: String) -> [IPPrefix] {
            interfaces(of: node).flatMap(\.addresses)
        }

        /// The names of the default line: a client, a forwarding router, a server.
        public static let lineNodeNames = ["client", "router", "server"]

        /// One network namespace.
        public struct Node: Sendable, Hashable {
            public var name: String
            /// Sysctls to set inside the node's namespace before anything runs, in file order
            /// (e.g. `net.ipv4.tcp_rmem` = `4096 16384 16384`). Values are passed as written.
            public var sysctls: [Sysctl]
            /// IP forwarding (IPv4 and IPv6). Default: on for a node with two or more links (the
            /// line's router), off otherwise.
            public var forwarding: Bool
            /// Metrics put on every route the runner installs in this node (for example `rto_min`).
            public var routeMetrics: RouteMetrics

            public init(name: String, sysctls: [Sysctl] = [], forwarding: Bool, routeMetrics: RouteMetrics = RouteMetrics()) {
                self.name = name
                self.sysctls = sysctls
                self.forwarding = forwarding
                self.routeMetrics = routeMetrics
            }
        }

        public struct Sysctl: Sendable, Hashable {
            /// Dotted name as `sysctl(8)` writes it: `net.ipv4.tcp_rmem`. Always a `net.*` name.
            public var name: String
            public var value: String

            public init(name: String, value: String) {
                self.name = name
                self.value = value
            }
        }

        /// Route attributes the runner applies to the routes it installs in a node (iproute2's
        /// `rto_min` and `quickack`).
        public struct RouteMetrics: Sendable, Hashable {
            /// Minimum retransmission timeout (RTAX_RTO_MIN, locked), 1 ms to 120 s, whole
            /// milliseconds. nil: the kernel's (200 ms).
            public var rtoMin: Duration?
            /// RTAX_QUICKACK: when true, the node ACKs at once instead of delaying ACKs.
            public var quickAck: Bool?

            public init(rtoMin: Duration? = nil, quickAck: Bool? = nil) {
                self.rtoMin = rtoMin
                self.quickAck = quickAck
            }

            public var isEmpty: Bool { rtoMin == nil && quickAck == nil }
        }

        /// A veth pair between two nodes.
        public struct Link: Sendable, Hashable {
            /// The end named first in the file (`client` in `client-router`).
            public var a: LinkEnd
            public var b: LinkEnd
            /// nil: the kernel default (1500).
            public var mtu: Int?
            /// Offloads on both ends. Default: all off, so captures show what the wire carries.
            public var offloads: Offloads

            public init(a: LinkEnd, b: LinkEnd, mtu: Int? = nil, offloads: Offloads = .off) {
                self.a = a
                self.b = b
                self.mtu = mtu
                self.offloads = offloads
            }

            /// `client-router`
            public var name: String { "\(a.node)-\(b.node)" }

            public func end(at node: String) -> LinkEnd? {
                a.node == node ? a : (b.node == node ? b : nil)
            }
        }

        /// One end of a link: the interface a node has on it.
        public struct LinkEnd: Sendable, Hashable {
            public var node: String
            /// `eth0` on a node with one link; `to-<neighbour>` on a node with several.
            public var interface: String
            /// As written, or the defaults (IPv4 then IPv6).
            public var addresses: [IPPrefix]

            public init(node: String, interface: String, addresses: [IPPrefix]) {
                self.node = node
                self.interface = interface
                self.addresses = addresses
            }
        }

        /// NIC offloads (ethtool features) on a link's two ends.
        ///
        /// With TSO/GSO/GRO on, a capture shows "segments" far larger than the MTU; with them off
        /// it shows what the wire carries. Faultline turns them off unless a link says otherwise.
        public struct Offloads: Sendable, Hashable {
            /// TCP segmentation offload (ethtool `tso`).
            public var tso: Bool
            /// Generic segmentation offload (`gso`).
            public var gso: Bool
            /// Generic receive offload (`gro`).
            public var gro: Bool

            public init(tso: Bool, gso: Bool, gro: Bool) {
                self.tso = tso
                self.gso = gso
                self.gro = gro
            }

            public static let off = Offloads(tso: false, gso: false, gro: false)
            public static let on = Offloads(tso: true, gso: true, gro: true)
        }

        /// The default addresses. Link number n (counting from 1 in file order) gets
        /// `198.18.0.0 + n·256 /24` (198.18.1.0/24, 198.18.2.0/24, …, on into 198.19.x) and
        /// `fd00:fa17:n::/64` (n in hex). Host 1 goes to the end with more links (the router),
        /// host 2 to the other; on a tie the first-named end takes host 1. `198.18.0.0/15`
        /// (RFC 2544 benchmarking) and `fd00::/8` (unique local) are never routed on the internet.
        public enum DefaultAddressing {
            public static let maximumLinks = 511

            /// The IPv4 and IPv6 address of host `host` (1 or 2) on link number `n` (1-based).
            public static func addresses(link n: Int, host: Int) -> [IPPrefix] {
                let v4Base: UInt32 = 198 << 24 | 18 << 16
                let v4 = IPPrefix(address: IPAddress(ipv4: v4Base + UInt32(n) << 8 + UInt32(host)), prefixLength: 24)
                let v6 = IPPrefix(address: IPAddress(ipv6High: 0xfd00_fa17_0000_0000 | UInt64(n) << 16, low: UInt64(host)), prefixLength: 64)
                return [v4, v6]
            }
        }
    }
}
