import CLinux
import Glibc
import Impairment
import Netlink
import Testing

/// The benchmark's measuring ends: the packet-ring sink and the socket receiver's drop count.
@Suite("Probe sinks", .serialized)
struct ProbeSinkTests {
    typealias F = UserspaceFixture

    @Test("The ring sink counts every probe at the server's interface, and its rule keeps them from the server's UDP layer",
          arguments: [false, true])
    func ringSink(ipv6: Bool) throws {
        try F.withLine { net in
            let server = try net.namespace(F.server)
            let port: UInt16 = 9300
            let sink = try UDPProbeRingSink(in: server, interface: "eth0", port: port)
            let installed = try ChildProcess.run(["nft", "list", "tables"], in: server)
            #expect(installed.standardOutput.contains("table netdev faultline_sink_\(port)"))
            sink.start()
            let before = F.counters("snmp", in: server)
            let sender = try UDPProbeSender(in: try net.namespace(F.client), to: ipv6 ? F.serverAddress6 : F.serverAddress,
                                            port: port, flows: 2, sourcePort: 41000)
            let start = fl_realtime_ns()
            let report = sender.send(count: 5000, size: 100, batch: 50)
            sink.waitUntilQuiet(quiet: 100_000_000, limit: 3_000_000_000)
            let arrivals = sink.stop()
            #expect(report.sent == 5000)
            #expect(arrivals.count == 5000)
            #expect(Set(arrivals.map(\.sequence)) == Set(0..<5000))
            #expect(sink.dropped == 0)
            // Arrival times are the kernel's, after sending began and after each probe was sent.
            #expect(arrivals.allSatisfy { $0.receivedRealtime >= start && $0.receivedRealtime >= $0.sentRealtime })
            // Dropped at ingress: the server's UDP layer saw none of them (no "no port" answers).
            let after = F.counters("snmp", in: server)
            if !ipv6 {
                #expect(after["UdpNoPorts", default: 0] == before["UdpNoPorts", default: 0])
                #expect(after["UdpInDatagrams", default: 0] == before["UdpInDatagrams", default: 0])
            }

            // tearDown removes the rule: the next probes reach the UDP layer (no socket: NoPorts).
            sink.tearDown()
            let tables = try ChildProcess.run(["nft", "list", "tables"], in: server)
            #expect(tables.status == .exited(0))
            #expect(!tables.standardOutput.contains("faultline_sink_\(port)"))
            if !ipv6 {
                sender.send(count: 20, size: 100, batch: 1, packetsPerSecond: 2000)
                usleep(100_000)
                let reached = F.counters("snmp", in: server)
                #expect(reached["UdpNoPorts", default: 0] - after["UdpNoPorts", default: 0] == 20)
            }
        }
    }

    @Test("The socket receiver reports what its full buffer dropped: delivered + dropped = sent")
    func socketReceiverDrops() throws {
        try F.withLine { net in
            // The smallest buffer the kernel allows, not read until the burst is over.
            let receiver = try UDPProbeReceiver(in: try net.namespace(F.server), port: 9301, receiveBuffer: 1)
            let sender = try UDPProbeSender(in: try net.namespace(F.client), to: F.serverAddress, port: 9301, sourcePort: 41010)
            let report = sender.send(count: 1000, size: 64, batch: 50)
            usleep(100_000)
            receiver.start()
            receiver.waitUntilQuiet(quiet: 100_000_000, limit: 2_000_000_000)
            let arrivals = receiver.stop()
            #expect(receiver.dropped > 0)
            #expect(arrivals.count + receiver.dropped == report.sent)
        }
    }
}
