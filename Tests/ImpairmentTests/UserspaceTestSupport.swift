import Values
import CLinux
import Glibc
import Impairment
import Netlink
import Testing

/// Shared pieces of the userspace engine's tests: a line topology per test, specs, statistics.
enum UserspaceFixture {
    static let client = "client", router = "router", server = "server"
    static var serverAddress: IPAddress { IPAddress(ipv4: 198 << 24 | 18 << 16 | 2 << 8 | 2) }
    static var clientAddress: IPAddress { IPAddress(ipv4: 198 << 24 | 18 << 16 | 1 << 8 | 2) }
    static var serverAddress6: IPAddress { IPAddress(ipv6High: 0xfd00_fa17_0002_0000, low: 2) }

    static func link(_ text: String) throws -> LinkDirection { try LinkDirection(parsing: text) }

    /// Builds `client — router — server`, runs `body`, tears everything down (even on failure).
    static func withLine<T>(_ body: (Network) throws -> T) throws -> T {
        let net = try Topology.line().build()
        defer { net.teardown() }
        return try body(net)
    }

    /// Starts the engine with `specs`, runs `body`, stops the engine.
    static func withEngine<T>(_ net: Network, _ specs: [ImpairmentSpec], seed: UInt64 = 1,
                              options: UserspaceEngine.Options = .init(), _ body: (UserspaceEngine) throws -> T) throws -> T {
        let engine = try UserspaceEngine.start(network: net, specs: specs, seed: seed, options: options)
        defer { engine.stop() }
        return try body(engine)
    }

    /// Sends `count` probes client → server (UDP port 9000) and returns what arrived.
    static func probe(_ net: Network, count: Int, size: Int = 64, packetsPerSecond: Double?, batch: Int = 32,
                      flows: Int = 1, sourcePort: UInt16? = 40000, port: UInt16 = 9000,
                      quiet: UInt64 = 150_000_000) throws -> (sent: Int, arrivals: [UDPProbe.Arrival]) {
        let receiver = try UDPProbeReceiver(in: try net.namespace(server), port: port, expected: count)
        receiver.start()
        let sender = try UDPProbeSender(in: try net.namespace(client), to: serverAddress, port: port, flows: flows,
                                        sourcePort: sourcePort)
        let report = sender.send(count: count, size: size, batch: batch, packetsPerSecond: packetsPerSecond)
        receiver.waitUntilQuiet(quiet: quiet)
        return (report.sent, receiver.stop())
    }

    /// The counters of "/proc/thread-self/net/<file>" read on `namespace`'s thread, by nstat's
    /// names ("UdpRcvbufErrors", "TcpExtListenOverflows").
    static func counters(_ file: String, in namespace: NetworkNamespace) -> [String: Int64] {
        let counters: KernelCounters? = namespace.run { try? KernelCounters.read([file]) }
        return counters?.values ?? [:]
    }

    static func quantile(_ sorted: [Double], _ q: Double) -> Double {
        guard !sorted.isEmpty else { return .nan }
        let position = q * Double(sorted.count - 1)
        let lower = Int(position.rounded(.down)), upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - Double(lower))
    }

    /// The two-sided binomial interval of the drop count for n trials at probability p with a
    /// normal approximation (z = 3.29 for 99.9%), as a fraction.
    static func binomialInterval(n: Int, p: Double, z: Double = 3.29) -> ClosedRange<Double> {
        let sd = (p * (1 - p) / Double(n)).squareRoot()
        return (p - z * sd)...(p + z * sd)
    }
}

/// Blocking TCP sockets in the line's namespaces, for the tests whose behaviour is TCP's.
enum TCPHelper {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    static func address(_ ip: IPAddress, _ port: UInt16) -> sockaddr_in {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        withUnsafeMutableBytes(of: &a.sin_addr) { $0.copyBytes(from: ip.bytes) }
        return a
    }

    /// A listening socket on `ip:port` inside `namespace`.
    static func listen(in namespace: NetworkNamespace, on ip: IPAddress, port: UInt16) throws -> Int32 {
        try namespace.run { () throws -> Int32 in
            let fd = fl_socket_cloexec(AF_INET, fl_sock_stream(), 0)
            guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
            var on: Int32 = 1
            _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, 4)
            var a = address(ip, port)
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
            guard rc == 0, Glibc.listen(fd, 8) == 0 else { close(fd); throw Failure(description: "bind/listen: errno \(errno)") }
            return fd
        }
    }

    /// A connected socket from `namespace` to `ip:port`.
    static func connect(in namespace: NetworkNamespace, to ip: IPAddress, port: UInt16) throws -> Int32 {
        try namespace.run { () throws -> Int32 in
            let fd = fl_socket_cloexec(AF_INET, fl_sock_stream(), 0)
            guard fd >= 0 else { throw Failure(description: "socket: errno \(errno)") }
            var a = address(ip, port)
            let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, 16) } }
            guard rc == 0 else { let e = errno; close(fd); throw Failure(description: "connect: errno \(e)") }
            setTimeout(fd, seconds: 5)
            return fd
        }
    }

    static func accept(_ listener: Int32) throws -> Int32 {
        let fd = Glibc.accept(listener, nil, nil)
        guard fd >= 0 else { throw Failure(description: "accept: errno \(errno)") }
        setTimeout(fd, seconds: 5)
        return fd
    }

    static func setTimeout(_ fd: Int32, seconds: Int) {
        var t = timeval(tv_sec: seconds, tv_usec: 0)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &t, socklen_t(MemoryLayout<timeval>.size))
    }

    static func sendAll(_ fd: Int32, _ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { b in b.baseAddress.map { send(fd, $0 + offset, bytes.count - offset, 0) } ?? -1 }
            guard n > 0 else { throw Failure(description: "send: errno \(errno)") }
            offset += n
        }
    }

    static func receive(_ fd: Int32, count: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var offset = 0
        while offset < count {
            let n = out.withUnsafeMutableBytes { b in b.baseAddress.map { recv(fd, $0 + offset, count - offset, 0) } ?? -1 }
            guard n > 0 else { throw Failure(description: "recv after \(offset) of \(count) bytes: errno \(errno)") }
            offset += n
        }
        return out
    }

    static func tcpInfo(_ fd: Int32) -> fl_tcp_info {
        var info = fl_tcp_info()
        _ = fl_get_tcp_info(fd, &info)
        return info
    }
}
