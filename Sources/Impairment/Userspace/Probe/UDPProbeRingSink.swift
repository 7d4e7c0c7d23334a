import Values
import CLinux
import Glibc
import Netlink
import Synchronization

/// A cheaper sink for throughput runs: probe datagrams counted where they reach the server's
/// interface, not in a socket.
///
/// A TPACKET_V3 ring on the interface gets a copy of each packet as it arrives (the kernel
/// writes it into shared memory, stamped with its arrival time); an nftables ingress rule then
/// drops the datagrams to `port`, before the server's IP and UDP layers. A UDP socket sink costs
/// the receiving namespace a route lookup, a socket lookup, a queueing and a recvmmsg copy per
/// datagram — on 2 cores about a quarter of the CPU at 300k packets/s, which a benchmark of the
/// router's path would otherwise charge to the path. What crosses the router, and every decision
/// the engine makes, is the same with either sink.
public final class UDPProbeRingSink: ProbeSink, @unchecked Sendable {
    private let ring: OpaquePointer
    private let namespace: NetworkNamespace
    private let table: String
    private let ringDrops = Atomic<Int>(0)
    private var closed = false
    public let port: UInt16

    /// Opens the ring on `interface` of `namespace` and installs the drop rule for `port`.
    public init(in namespace: NetworkNamespace, interface: String, port: UInt16, expected: Int = 1 << 16) throws(UserspaceEngineError) {
        self.port = port
        self.namespace = namespace
        table = "faultline_sink_\(port)"
        let opened = try namespace.run { () throws(UserspaceEngineError) -> OpaquePointer in
            let index = if_nametoindex(interface)
            guard index != 0 else { throw .system(operation: "find \(interface) for the probe sink", errno: Errno.current) }
            var ring: OpaquePointer?
            // 64 blocks of 1 MiB: ~6,000 probe packets a block, a second of traffic in all; a
            // partly filled block is handed over after 1 ms.
            guard fl_packet_ring_open(Int32(index), 1 << 20, 64, 1, &ring) == 0, let ring else {
                throw .system(operation: "open a TPACKET_V3 ring on \(interface) for the probe sink", errno: Errno.current)
            }
            return ring
        }
        ring = opened
        let rule = "add table netdev \(table) { chain sink { type filter hook ingress device \"\(interface)\" priority 0; "
            + "udp dport \(port) drop; }; }"
        do {
            try FirewallRule.run(["nft", rule], in: namespace)
        } catch {
            fl_packet_ring_close(opened)
            throw error
        }
        super.init(expected: expected)
    }

    deinit {
        _ = stop()
        tearDown()
    }

    /// Removes the drop rule and closes the ring (also done on deinit).
    public override func tearDown() {
        guard !closed else { return }
        closed = true
        _ = try? FirewallRule.run(["nft", "delete", "table", "netdev", table], in: namespace)
        fl_packet_ring_close(ring)
    }

    /// Packets the ring had no room for (the reader fell a whole ring behind).
    public override var dropped: Int { ringDrops.load(ordering: .relaxed) }

    override func loop() {
        let batch = 1024, copy = UDPProbe.headerSize
        let payloads = UnsafeMutableRawPointer.allocate(byteCount: batch * copy, alignment: 16)
        defer { payloads.deallocate() }
        var lengths = [Int32](repeating: 0, count: batch)
        var stamps = [UInt64](repeating: 0, count: batch)
        var local: [UDPProbe.Arrival] = []
        local.reserveCapacity(batch)
        var fds = [pollfd(fd: fl_packet_ring_fd(ring), events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake, events: Int16(POLLIN), revents: 0)]
        var stopping = false
        while true {
            // A block is retired at most 1 ms after its first packet: poll's wakeups come in
            // blocks, not packets.
            _ = poll(&fds, 2, stopping ? 0 : 100)
            if fds[1].revents != 0 { stopping = true }
            var got = 0
            while true {
                let n = lengths.withUnsafeMutableBufferPointer { l in
                    stamps.withUnsafeMutableBufferPointer { s in
                        fl_packet_ring_read(ring, port, payloads.assumingMemoryBound(to: UInt8.self), copy, l.baseAddress,
                                            s.baseAddress, Int32(batch))
                    }
                }
                if n <= 0 { break }
                got += Int(n)
                local.removeAll(keepingCapacity: true)
                for i in 0..<Int(n) {
                    if let a = UDPProbe.parse(payloads + i * copy, length: min(Int(lengths[i]), copy), received: stamps[i]) {
                        local.append(a)
                    }
                }
                record(local)
                if Int(n) < batch { break }
            }
            var seen: UInt32 = 0, drops: UInt32 = 0
            if fl_packet_ring_stats(ring, &seen, &drops) == 0, drops > 0 { ringDrops.add(Int(drops), ordering: .relaxed) }
            if stopping && got == 0 { return }
        }
    }
}
