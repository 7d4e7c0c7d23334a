import CLinux
import Glibc
import Netlink
import Peers
import Testing
import TestSupport

/// Both ends real: the `faultline peer` binary in the client and server namespaces of a line
/// topology, talking across the router; assertions on their event logs and exit codes.
/// Serialized: each test builds its own topology and measures timings; running them one at a time
/// keeps those measurements honest on a 2-core machine and the whole suite stays under 10 s.
@Suite("Peers across client — router — server", .serialized)
struct PeerBehaviourTests {
    @Test("never-read server + bulk sender: writes block, the receive queue is full, summaries say so")
    func neverReadBulkSender() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9001", "--never-read", "--tcp-info-interval", "50ms"])
        try #require(server.waitFor("listening") != nil, "\(server.diagnostics)")
        let client = try lab.start("client", "client", ["send", "--to", "\(try lab.address("server")):9001", "--bytes", "64MiB",
                                                        "--tcp-info-interval", "50ms"])
        try #require(client.waitFor("connected") != nil, "\(client.diagnostics)")
        // Let the buffers fill and the sender sit blocked for a while.
        usleep(800_000)
        // The client first, and wait for it: a server closing with unread data sends a RST,
        // which would fail a client still finishing its own shutdown.
        client.terminate()
        #expect(client.exitCode() == 0, "\(client.diagnostics)")
        server.terminate()
        #expect(server.exitCode() == 0, "\(server.diagnostics)")

        let serverSummary = try #require(server.summary, "\(server.diagnostics)")
        #expect(serverSummary.string("outcome") == "terminated")
        #expect(serverSummary.string("signal") == "SIGTERM")
        #expect(serverSummary.int("bytes_read") == 0)
        #expect(serverSummary.int("max_inq") ?? 0 > 16_384, "the unread data sits in the receive queue")
        #expect(serverSummary.bool("zero_window_advertised") == true, "\(server.diagnostics)")
        // The receiver's own view just before close: a full queue and a zero window.
        let finalSample = try #require(server.events().last(where: { $0.name == "tcp_info" && $0.bool("final") == true }))
        #expect(finalSample.int("rcv_wnd") == 0)
        #expect(finalSample.int("inq") == serverSummary.int("max_inq"))

        let clientSummary = try #require(client.summary, "\(client.diagnostics)")
        #expect(clientSummary.string("outcome") == "terminated")
        #expect(clientSummary.uint("bytes_written") < 64 << 20)
        #expect(clientSummary.uint("max_write_block_ns") >= 500_000_000, "the last write stayed blocked until SIGTERM")
        #expect(clientSummary.bool("peer_zero_window") == true, "the sender's TCP_INFO saw snd_wnd 0")
        let ongoing = client.events().last(where: { $0.name == "write_blocked" })
        #expect(ongoing?.bool("ongoing") == true)
        // Bytes the sender could hand over = what the receiver holds unread + what sits in the sender's queue.
        let clientFinal = try #require(client.events().last(where: { $0.name == "tcp_info" && $0.bool("final") == true }))
        #expect(clientSummary.uint("bytes_written") >= serverSummary.uint("max_inq") + clientFinal.uint("outq") - 1)
    }

    @Test("slow reader: throughput follows --read-chunk / --read-interval within 20%")
    func slowReaderThroughput() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let chunk = 16_384
        let interval: UInt64 = 40_000_000
        let server = try lab.start("server", "server", ["listen", "--port", "9002", "--rcvbuf", "32KiB",
                                                        "--read-chunk", "16KiB", "--read-interval", "40ms"])
        try #require(server.waitFor("listening") != nil, "\(server.diagnostics)")
        let client = try lab.start("client", "client", ["send", "--to", "\(try lab.address("server")):9002", "--bytes", "384KiB"])
        #expect(client.exitCode() == 0, "\(client.diagnostics)")
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        let summary = try #require(server.summary, "\(server.diagnostics)")
        #expect(summary.string("outcome") == "completed")
        #expect(summary.int("bytes_read") == Int64(384 * 1024))
        // n chunks are read at n ticks: n - 1 intervals between the first read and the last.
        let span = summary.uint("last_read_ns") - summary.uint("first_read_ns")
        let measured = Double(summary.uint("bytes_read") - UInt64(chunk)) / (Double(span) / 1e9)
        let expected = Double(chunk) / (Double(interval) / 1e9)
        #expect(abs(measured - expected) / expected < 0.2, "measured \(measured) B/s, expected \(expected) B/s")
        // The small buffer made the sender wait for the reader (the ZW1 pattern).
        let clientSummary = try #require(client.summary)
        #expect(clientSummary.uint("max_write_block_ns") >= 20_000_000, "\(client.diagnostics)")
    }

    @Test("listen --concurrent reads a second connection while the first stays open; without it the second waits unread")
    func concurrentListener() throws {
        for concurrent in [true, false] {
            let lab = try PeerLab()
            defer { lab.close() }
            let server = try lab.start("server", "server", ["listen", "--port", "9005", "--connections", "2"] + (concurrent ? ["--concurrent"] : []))
            try #require(server.waitFor("listening") != nil, "\(server.diagnostics)")
            let target = "\(try lab.address("server")):9005"
            let holder = try lab.start("client", "holder", ["send", "--to", target, "--bytes", "1KiB", "--keep-open"])
            try #require(holder.waitFor("connected") != nil, "\(holder.diagnostics)")
            let second = try lab.start("client", "second", ["send", "--to", target, "--bytes", "32KiB"])
            #expect(second.exitCode() == 0, "\(second.diagnostics)")
            usleep(200_000)
            let accepted = server.events().filter { $0.name == "accepted" }.count
            let read = server.events().filter { $0.name == "progress" || $0.name == "eof" }.compactMap { $0.int("bytes_read") }.max() ?? 0
            if concurrent {
                #expect(accepted == 2, "\(server.diagnostics)")
                #expect(read >= 33 * 1024, "both connections read: \(read) bytes")
            } else {
                #expect(accepted == 1, "one after another: the second waits in the backlog")
            }
            holder.terminate()
            server.terminate()
        }
    }

    @Test("connect to a closed port: ECONNREFUSED in under 100 ms, exit 1")
    func connectRefused() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let client = try lab.start("client", "client", ["connect", "--to", "\(try lab.address("server")):9003"])
        #expect(client.exitCode() == 1, "\(client.diagnostics)")
        let summary = try #require(client.summary, "\(client.diagnostics)")
        #expect(summary.string("outcome") == "failed")
        #expect(summary.string("errno") == "ECONNREFUSED")
        #expect(summary.int("errno_value") == Int64(ECONNREFUSED))
        #expect(summary.string("error_call") == "connect")
        #expect(summary.string("connect_result") == "ECONNREFUSED")
        #expect(summary.uint("connect_ns") < 100_000_000, "took \(summary.uint("connect_ns")) ns")
        let error = try #require(client.events().first(where: { $0.name == "error" }))
        #expect(error.string("message") == "Connection refused")
    }

    @Test("connect through a router that drops SYNs: ETIMEDOUT after --timeout")
    func connectTimesOut() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let rule = try lab.run("router", ["iptables", "-A", "FORWARD", "-p", "tcp", "--syn", "-j", "DROP"])
        try #require(rule == .exited(0), "iptables in the router namespace: \(rule)")
        let server = try lab.start("server", "server", ["listen", "--port", "9004", "--exit-after", "3s"])
        try #require(server.waitFor("listening") != nil)
        let client = try lab.start("client", "client", ["connect", "--to", "\(try lab.address("server")):9004", "--timeout", "300ms"])
        #expect(client.exitCode() == 1, "\(client.diagnostics)")
        let summary = try #require(client.summary, "\(client.diagnostics)")
        #expect(summary.string("errno") == "ETIMEDOUT")
        #expect(summary.string("error_call") == "connect")
        let took = summary.uint("connect_ns")
        #expect(took >= 300_000_000 && took < 450_000_000, "took \(took) ns")
        server.terminate()
        #expect(server.exitCode() == 0)
        #expect(server.summary?.int("connections") == 0, "no SYN reached the server")
    }

    @Test("--abort-after: the server sends RST and the client's read fails with ECONNRESET")
    func abortAfter() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9005", "--abort-after", "1000"])
        try #require(server.waitFor("listening") != nil)
        let client = try lab.start("client", "client", ["send", "--to", "\(try lab.address("server")):9005", "--bytes", "1000", "--keep-open"])
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        #expect(client.exitCode() == 1, "\(client.diagnostics)")
        let close = try #require(server.events().first(where: { $0.name == "close" }), "\(server.diagnostics)")
        #expect(close.string("how") == "abort")
        #expect(close.string("sends") == "RST")
        #expect(server.summary?.int("bytes_read") == 1000)
        let summary = try #require(client.summary)
        #expect(summary.string("errno") == "ECONNRESET")
        #expect(summary.string("error_call") == "recv")
        #expect(summary.int("bytes_written") == 1000)
    }

    @Test("--close-unread-after: close with data unread sends RST; the sender's next write fails with ECONNRESET")
    func closeUnread() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9006", "--close-unread-after", "64KiB"])
        try #require(server.waitFor("listening") != nil)
        let client = try lab.start("client", "client", ["send", "--to", "\(try lab.address("server")):9006", "--bytes", "64MiB"])
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        #expect(client.exitCode() == 1, "\(client.diagnostics)")
        let close = try #require(server.events().first(where: { $0.name == "close" }), "\(server.diagnostics)")
        #expect(close.string("how") == "close")
        #expect(close.int("unread_bytes") ?? 0 > 0)
        #expect(close.string("sends") == "RST")
        #expect(server.summary?.int("bytes_read") == 65536)
        let summary = try #require(client.summary)
        #expect(summary.string("errno") == "ECONNRESET", "\(client.diagnostics)")
        #expect(summary.string("error_call") == "send")
        #expect(summary.uint("bytes_written") < 64 << 20)
    }

    @Test("request/response with server think time: every round trip recorded and at least the think time")
    func requestResponse() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        try requestResponse(lab, server: try lab.address("server"), port: "9007")
    }

    @Test("IPv6: request/response across the router over fd00:fa17::/48")
    func requestResponseIPv6() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let (server, client) = try requestResponse(lab, server: try lab.address("server", ipv6: true), port: "9008")
        let accepted = try #require(server.events().first(where: { $0.name == "accepted" }))
        #expect(accepted.string("remote")?.hasPrefix("[fd00:fa17:1::2]:") == true)
        #expect(client.events().first(where: { $0.name == "connected" })?.string("remote") == "[fd00:fa17:2::2]:9008")
    }

    @discardableResult
    private func requestResponse(_ lab: PeerLab, server host: String, port: String) throws -> (RunningPeer, RunningPeer) {
        let server = try lab.start("server", "server", ["listen", "--port", port, "--respond", "300", "--think", "40ms", "--no-quickack"])
        try #require(server.waitFor("listening") != nil, "\(server.diagnostics)")
        let client = try lab.start("client", "client", ["request", "--to", "\(host):\(port)", "--count", "5", "--size", "120",
                                                        "--think", "10ms", "--quickack"])
        #expect(client.exitCode() == 0, "\(client.diagnostics)")
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        let responses = client.events().filter { $0.name == "response" }
        #expect(responses.map { $0.int("seq") ?? 0 } == [1, 2, 3, 4, 5])
        for response in responses {
            #expect(response.uint("rtt_ns") >= 40_000_000, "round trip \(response.uint("rtt_ns")) ns shorter than the think time")
            #expect(response.uint("rtt_ns") < 400_000_000)
            #expect(response.int("response_bytes") == 300)
        }
        let summary = try #require(client.summary)
        #expect(summary.int("requests") == 5)
        #expect(summary.uint("rtt_min_ns") >= 40_000_000)
        #expect(summary.int("bytes_written") == Int64(5 * 120))
        #expect(summary.int("bytes_read") == Int64(5 * 300))
        #expect(server.summary?.int("requests") == 5)
        return (server, client)
    }

    @Test("T2: --no-quickack delays the server's ACKs; with rto_min 5ms the client retransmits spuriously, without it not at all")
    func delayedAcks() throws {
        let lab = try PeerLab(Topology.line(clientRouteMetrics: RouteMetrics(rtoMinMilliseconds: 5)))
        defer { lab.close() }
        let host = try lab.address("server")
        let delaying = try lab.start("server", "delaying", ["listen", "--port", "9013", "--respond", "100", "--think", "60ms", "--no-quickack"])
        let prompt = try lab.start("server", "prompt", ["listen", "--port", "9014", "--respond", "100", "--think", "60ms"])
        try #require(delaying.waitFor("listening") != nil && prompt.waitFor("listening") != nil)
        let spurious = try lab.start("client", "spurious", ["request", "--to", "\(host):9013", "--count", "4", "--size", "100"])
        let clean = try lab.start("client", "clean", ["request", "--to", "\(host):9014", "--count", "4", "--size", "100"])
        #expect(spurious.exitCode() == 0, "\(spurious.diagnostics)")
        #expect(clean.exitCode() == 0, "\(clean.diagnostics)")
        // The kernel's own count, from the final TCP_INFO sample before close.
        let retransmitted = try #require(spurious.summary?.int("total_retrans"))
        #expect(retransmitted >= 3, "requests 2-4 reach a server that has cleared TCP_QUICKACK: each draws a spurious retransmission; \(spurious.diagnostics)")
        #expect(clean.summary?.int("total_retrans") == 0, "\(clean.diagnostics)")
        let final = try #require(spurious.events().last(where: { $0.name == "tcp_info" }))
        #expect(final.int("rto_us") ?? 1_000_000 < 40_000, "rto_min 5ms brings the RTO under the 40 ms delayed-ACK timer")
        #expect(final.int("dsack_dups") ?? 0 >= 1, "the server answered a duplicate with a D-SACK")
    }

    @Test("paced sender from a fixed source port, server delaying accept: one write per --pace, the port and the delay seen")
    func pacedSenderBindPortAcceptDelay() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9015", "--accept-delay", "150ms"])
        let listening = try #require(server.waitFor("listening"))
        let client = try lab.start("client", "client", ["send", "--to", "\(try lab.address("server")):9015", "--bytes", "10KiB",
                                                        "--write-size", "1KiB", "--pace", "20ms", "--nodelay", "--bind-port", "40001"])
        #expect(client.exitCode() == 0, "\(client.diagnostics)")
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        let accepted = try #require(server.events().first(where: { $0.name == "accepted" }))
        #expect(accepted.string("remote") == "198.18.1.2:40001")
        #expect(accepted.timestamp - listening.timestamp >= 150_000_000, "accept() waited for --accept-delay")
        #expect(accepted.int("inq") ?? 0 > 0, "data arrived while the connection waited in the backlog")
        let summary = try #require(client.summary)
        let span = summary.uint("last_write_ns") - summary.uint("first_write_ns")
        // 10 writes on a 20 ms grid span 180 ms; the first send() may finish a little late under load
        // (its timestamp is taken when it returns), the rest keep to the grid.
        #expect(span >= 165_000_000 && span < 240_000_000, "10 writes 20 ms apart span 180 ms; got \(span) ns")
        #expect(server.summary?.int("bytes_read") == 10_240)
    }

    @Test("listen --accept-after-overflows: the first accept() waits for the kernel to turn a handshake away, the turned-away client's SYN is answered on a retransmission")
    func acceptAfterOverflows() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        // backlog 1: the kernel queues backlog + 1 = 2 finished handshakes; the third SYN overflows.
        let server = try lab.start("server", "server", ["listen", "--port", "9017", "--backlog", "1", "--connections", "3",
                                                        "--accept-after-overflows", "1", "--accept-delay", "20s"])
        let listening = try #require(server.waitFor("listening"))
        let to = "\(try lab.address("server")):9017"
        var clients: [RunningPeer] = []
        for index in 1...3 {
            let client = try lab.start("client", "c\(index)", ["connect", "--to", to, "--hold", "100ms"])
            // Each in the queue before the next starts; the third is the one turned away.
            if index < 3 { try #require(client.waitFor("connected", seconds: 10) != nil, "\(client.diagnostics)") }
            clients.append(client)
        }
        for client in clients { #expect(client.exitCode(seconds: 15) == 0, "\(client.diagnostics)") }
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        let accepting = try #require(server.events().first(where: { $0.name == "accepting" }), "\(server.diagnostics)")
        #expect(accepting.string("after") == "overflows", "\(server.diagnostics)")
        #expect(accepting.int("listen_overflows") ?? 0 >= 1)
        #expect(accepting.timestamp - listening.timestamp < 15_000_000_000, "the wait ended on the overflow, long before --accept-delay")
        // The turned-away SYN is repeated after the initial RTO (1 s), and that one is answered.
        let third = try #require(clients[2].events().first(where: { $0.name == "connected" }), "\(clients[2].diagnostics)")
        #expect(third.int("connect_ns") ?? 0 >= 900_000_000, "\(clients[2].diagnostics)")
        #expect(clients[0].events().first(where: { $0.name == "connected" })?.int("connect_ns") ?? .max < 900_000_000)
    }

    @Test("listen --accept-after-overflows with no overflow: --accept-delay ends the wait, and the event says so")
    func acceptAfterOverflowsTimesOut() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9018", "--accept-after-overflows", "1", "--accept-delay", "300ms"])
        let listening = try #require(server.waitFor("listening"))
        let client = try lab.start("client", "client", ["connect", "--to", "\(try lab.address("server")):9018", "--hold", "100ms"])
        #expect(client.exitCode() == 0, "\(client.diagnostics)")
        #expect(server.exitCode() == 0, "\(server.diagnostics)")
        let accepting = try #require(server.events().first(where: { $0.name == "accepting" }), "\(server.diagnostics)")
        #expect(accepting.string("after") == "accept-delay")
        #expect(accepting.int("listen_overflows") == 0)
        #expect(accepting.timestamp - listening.timestamp >= 300_000_000)
    }

    @Test("send --linger-zero aborts after the last write: RST; the server reads what had arrived, then recv fails with ECONNRESET")
    func senderAborts() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9016", "--read-chunk", "8KiB", "--read-interval", "20ms"])
        try #require(server.waitFor("listening") != nil)
        let client = try lab.start("client", "client", ["send", "--to", "\(try lab.address("server")):9016", "--bytes", "32KiB", "--linger-zero"])
        #expect(client.exitCode() == 0, "\(client.diagnostics)")
        #expect(server.exitCode() == 1, "\(server.diagnostics)")
        let close = try #require(client.events().first(where: { $0.name == "close" }))
        #expect(close.string("how") == "abort")
        #expect(close.string("sends") == "RST")
        let summary = try #require(server.summary)
        #expect(summary.string("errno") == "ECONNRESET")
        #expect(summary.string("error_call") == "recv")
        // Linux keeps data that arrived before the RST readable; the error comes after it.
        #expect(summary.uint("bytes_read") > 0 && summary.uint("bytes_read") <= 32_768)
    }

    @Test("SIGTERM while waiting for a connection: summary written, exit 0")
    func sigtermWritesSummary() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9009"])
        try #require(server.waitFor("listening") != nil)
        server.terminate()
        #expect(server.exitCode(seconds: 2) == 0, "\(server.diagnostics)")
        let summary = try #require(server.summary, "\(server.diagnostics)")
        #expect(summary.string("outcome") == "terminated")
        #expect(summary.string("signal") == "SIGTERM")
        #expect(server.events().last?.name == "summary")
    }

    @Test("--exit-after stops the peer on time with outcome exit-after")
    func exitAfter() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9010", "--exit-after", "200ms"])
        #expect(server.exitCode(seconds: 3) == 0, "\(server.diagnostics)")
        let summary = try #require(server.summary)
        #expect(summary.string("outcome") == "exit-after")
        let duration = summary.uint("duration_ns")
        #expect(duration >= 200_000_000 && duration < 300_000_000, "ran \(duration) ns")
    }

    @Test("the parent is killed: the peer gets SIGTERM (PR_SET_PDEATHSIG), writes its summary and is gone within a second")
    func diesWithParent() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let events = "\(lab.directory)/orphan.jsonl"
        let shell = try lab.network.namespace("server").spawn(
            ["/bin/sh", "-c", "'\(lab.binary)' peer listen --port 9011 --events '\(events)' & wait"])
        let peer = RunningPeer(name: "orphan", child: shell, eventsPath: events, errorsPath: "/dev/null")
        let start = try #require(peer.waitFor("listening").flatMap { _ in peer.events().first(where: { $0.name == "start" }) })
        let pid = pid_t(try #require(start.int("pid")))
        #expect(start.int("ppid") == Int64(shell.pid), "the peer's parent is the shell")
        shell.signal(SIGKILL) // the shell only, not its process group
        _ = shell.wait()
        let deadline = fl_monotonic_ns() + 1_000_000_000
        while fl_monotonic_ns() < deadline && processAlive(pid) { usleep(5_000) }
        #expect(!processAlive(pid), "peer \(pid) outlived its parent by more than a second")
        let summary = try #require(peer.events().last(where: { $0.name == "summary" }))
        #expect(summary.string("signal") == "SIGTERM")
    }

    @Test("hold: after the server loses the connection silently (its FIN dropped), a write on SIGUSR1 draws RST → ECONNRESET")
    func holdHalfOpen() throws {
        let lab = try PeerLab()
        defer { lab.close() }
        let server = try lab.start("server", "server", ["listen", "--port", "9012"])
        try #require(server.waitFor("listening") != nil)
        let client = try lab.start("client", "client", ["hold", "--to", "\(try lab.address("server")):9012", "--write-on-signal",
                                                        "--write-bytes", "100"])
        try #require(client.waitFor("connected") != nil, "\(client.diagnostics)")
        try #require(server.waitFor("accepted") != nil, "\(server.diagnostics)")
        // The router drops every FIN, then the server process dies: the client never hears.
        let rule = try lab.run("router", ["iptables", "-A", "FORWARD", "-p", "tcp", "--tcp-flags", "FIN", "FIN", "-j", "DROP"])
        try #require(rule == .exited(0))
        server.child.kill()
        _ = server.child.wait()
        usleep(100_000)
        #expect(client.child.poll() == nil, "the client still believes in the connection")
        client.child.signal(SIGUSR1)
        #expect(client.exitCode() == 1, "\(client.diagnostics)")
        let summary = try #require(client.summary)
        #expect(summary.string("errno") == "ECONNRESET")
        #expect(summary.string("error_call") == "recv")
        #expect(summary.int("writes") == 1)
        #expect(summary.int("bytes_written") == 100)
    }

    private func processAlive(_ pid: pid_t) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        // A zombie (exited, not yet reaped by its new parent) is gone for our purpose.
        guard let stat = TestSupport.readFile("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
        let state = stat[stat.index(after: close)...].split(separator: " ").first
        return state != "Z" && state != "X"
    }
}
