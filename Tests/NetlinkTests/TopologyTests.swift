import Values
import CLinux
import Foundation
import Glibc
import Netlink
import Testing
import TestSupport

@Suite("Line topology")
struct TopologyTests {
    @Test("TCP from client to server crosses the router: the server sees TTL 63")
    func tcpCrossesRouter() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let server = try network.namespace("server")
        let client = try network.namespace("client")
        let serverAddress = try #require(network.address(of: "server"))

        // IP_MINTTL 64 on the listener: SYNs that crossed one router (TTL 63) are discarded.
        let strict = try server.run { () throws -> Int32 in try Sockets.tcpListener(serverAddress, port: 7001, minTTL: 64) }
        defer { close(strict) }
        let refused: Int32 = client.run { Sockets.tcpConnect(serverAddress, port: 7001, timeoutMilliseconds: 300) }
        #expect(refused == ETIMEDOUT)

        // IP_MINTTL 63: the same connection is accepted, so the TTL on arrival is exactly 63.
        let listener = try server.run { () throws -> Int32 in try Sockets.tcpListener(serverAddress, port: 7002, minTTL: 63) }
        defer { close(listener) }
        let result: Int32 = client.run { Sockets.tcpConnect(serverAddress, port: 7002, timeoutMilliseconds: 2000) }
        #expect(result == 0)
    }

    @Test("a UDP datagram from client arrives at server with TTL 63 (IP_RECVTTL)")
    func udpTTL() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let serverAddress = try #require(network.address(of: "server"))
        let receiver = try network.namespace("server").run { () throws -> Int32 in try Sockets.udpReceiver(serverAddress, port: 7003) }
        defer { close(receiver) }
        try network.namespace("client").run { () throws in try Sockets.udpSend(serverAddress, port: 7003) }
        #expect(Sockets.receiveTTL(receiver) == 63)
    }

    @Test("IPv6 addresses are reachable end to end (hop limit 63)")
    func ipv6Reachable() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let serverAddress = try #require(network.address(of: "server", ipv6: true))
        #expect(serverAddress.description == "fd00:fa17:2::2")
        let listener = try network.namespace("server").run { () throws -> Int32 in try Sockets.tcpListener(serverAddress, port: 7004, minTTL: nil) }
        defer { close(listener) }
        let result: Int32 = try network.namespace("client").run { Sockets.tcpConnect(serverAddress, port: 7004, timeoutMilliseconds: 2000) }
        #expect(result == 0)
    }

    @Test("route metrics rto_min (locked) and quickack read back from the kernel")
    func routeMetrics() throws {
        let network = try Topology.line(clientRouteMetrics: RouteMetrics(rtoMinMilliseconds: 5, quickack: true)).build()
        defer { network.teardown() }
        let handle = try network.handle("client")
        let routes = try handle.routes()
        let defaultRoute = try #require(routes.first { $0.destination == nil })
        #expect(defaultRoute.gateway == IPAddress("198.18.1.1"))
        #expect(defaultRoute.metrics.rtoMinMilliseconds == 5)
        #expect(defaultRoute.metrics.quickack == true)
        #expect(try handle.lockedMetrics(destination: nil) & (1 << 13) != 0)
        // `ip route` in the namespace agrees (it prints the lock keyword).
        let text = try network.namespace("client").run { () -> String in ipRouteText() }
        #expect(text.contains("rto_min lock 5ms"))
        #expect(text.contains("quickack 1"))
    }

    @Test("sysctls read back per namespace; the router forwards, the others do not")
    func sysctls() throws {
        var topology = Topology.line()
        topology.nodes[2].sysctls = ["net.ipv4.tcp_rmem": "4096 16384 65536", "net.ipv4.ip_default_ttl": "77"]
        let network = try topology.build()
        defer { network.teardown() }
        #expect(try network.namespace("router").sysctl("net.ipv4.ip_forward") == "1")
        #expect(try network.namespace("client").sysctl("net.ipv4.ip_forward") == "0")
        #expect(try network.namespace("server").sysctl("net.ipv4.tcp_rmem") == "4096 16384 65536")
        #expect(try network.namespace("server").sysctl("net.ipv4.ip_default_ttl") == "77")
        #expect(try network.namespace("client").sysctl("net.ipv4.ip_default_ttl") == "64")
    }

    @Test("segmentation offloads are off on every veth end; MTU applies")
    func offloadsAndMTU() throws {
        let network = try Topology.line(mtu: 1400).build()
        defer { network.teardown() }
        for (node, interface) in [("client", "eth0"), ("router", "to-client"), ("router", "to-server"), ("server", "eth0")] {
            #expect(try network.namespace(node).offloads(interface: interface) == .allOff)
            #expect(try network.handle(node).link(interface).mtu == 1400)
            #expect(try network.handle(node).link(interface).isUp)
        }
    }

    @Test("keepFlowsInOrder sets rps_cpus to every CPU on every veth end, in each namespace's own sysfs")
    func flowsInOrder() throws {
        let network = try Topology.line().build()
        defer { network.teardown() }
        let ends = [("client", "eth0"), ("router", "to-client"), ("router", "to-server"), ("server", "eth0")]
        func masks() throws -> [String] {
            try ends.map { node, interface throws -> String in
                try #require(network.namespace(node).readSysfs(["class/net/\(interface)/queues/rx-0/rps_cpus"]).first)
            }
        }
        // A fresh veth steers nothing (mask 0); afterwards every CPU is in the mask.
        #expect(try masks().allSatisfy { $0.allSatisfy { $0 == "0" || $0 == "," } })
        try network.keepFlowsInOrder()
        let cpus = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        for mask in try masks() {
            let bits = mask.split(separator: ",").compactMap { UInt64($0, radix: 16) }.map { $0.nonzeroBitCount }.reduce(0, +)
            #expect(bits == cpus, "rps_cpus \(mask) on \(cpus) CPUs")
        }
        // Nothing is left behind: no sysfs mount visible to this process, no temporary mount point.
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains("faultline-sysfs"))
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: "/tmp"))?.filter { $0.hasPrefix("faultline-sysfs-") } ?? []
        #expect(leftovers.isEmpty)
        // A missing device is reported with the path and errno.
        #expect(throws: NetlinkError.self) { try network.namespace("client").writeSysfs([("class/net/nope0/queues/rx-0/rps_cpus", "1")]) }
        do {
            try network.namespace("client").writeSysfs([("class/net/nope0/queues/rx-0/rps_cpus", "1")])
        } catch {
            #expect(error.errno == Errno(ENOENT))
            #expect(error.operation.contains("/sys/class/net/nope0/queues/rx-0/rps_cpus"))
        }
    }

    @Test("a named build mounts every node; teardown removes them")
    func namedBuild() throws {
        let network = try Topology.line().build(namedWith: "topo\(fl_monotonic_ns() % 100000)")
        let names = try network.nodeNames.map { node throws -> String in try #require(network.namespace(node).mountedName) }
        #expect(names.count == 3)
        for name in names { #expect(access("/run/netns/\(name)", F_OK) == 0) }
        network.teardown()
        for name in names { #expect(access("/run/netns/\(name)", F_OK) != 0) }
    }

    @Test("a topology naming a missing node is refused before anything is built")
    func missingNode() {
        var topology = Topology.line()
        topology.routes.append(.init(node: "dns", route: Route(gateway: IPAddress("198.18.1.1"))))
        #expect {
            _ = try topology.build()
        } throws: { error in
            (error as? NetlinkError)?.description == "build topology: EINVAL (Invalid argument). Route on \"dns\": no such node"
        }
    }
}

/// `ip route show` run inside the current thread's namespace (called within `run`).
func ipRouteText() -> String {
    TestSupport.runCommandHere(["/usr/sbin/ip", "route", "show"])
}

extension TestSupport {
    /// Runs a command from the calling thread, so it starts in that thread's namespace.
    static func runCommandHere(_ argv: [String]) -> String { runCommand(argv).output }
}

@Suite("Many topologies at once")
struct ConcurrentTopologyTests {
    @Test("12 line topologies built concurrently all come up and carry traffic")
    func concurrentBuilds() async throws {
        try await withThrowingTaskGroup(of: Int32.self) { group in
            for number in 0..<12 {
                group.addTask {
                    let network = try Topology.line().build()
                    defer { network.teardown() }
                    let server = try #require(network.address(of: "server"))
                    let port = UInt16(7100 + number)
                    let listener = try network.namespace("server").run { () throws -> Int32 in try Sockets.tcpListener(server, port: port, minTTL: nil) }
                    defer { close(listener) }
                    return try network.namespace("client").run { Sockets.tcpConnect(server, port: port, timeoutMilliseconds: 900) }
                }
            }
            for try await result in group { #expect(result == 0) }
        }
    }
}
