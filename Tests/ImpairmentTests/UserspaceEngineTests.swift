import Values
import CLinux
import Glibc
import Impairment
import Netlink
import Synchronization
import Testing

/// The userspace engine with real traffic through the router of `Topology.line()`: UDP probes
/// (numbered, timestamped, sent with sendmmsg) for volume and timing, TCP where the behaviour
/// is TCP's. Each test builds its own namespaces and removes them.
@Suite("Userspace engine on the router", .serialized)
struct UserspaceEngineTests {
    typealias F = UserspaceFixture

    @Test("Without impairments, every packet passes, in order, through the queue")
    func passThrough() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"))
            try F.withEngine(net, [spec]) { engine in
                let (sent, arrivals) = try F.probe(net, count: 5000, packetsPerSecond: 50_000)
                #expect(sent == 5000)
                #expect(arrivals.count == 5000)
                #expect(arrivals.map(\.sequence) == (0..<5000).map(UInt64.init))
                let stats = try #require(engine.stats.first)
                #expect(stats.decisions.packets == 5000)
                #expect(stats.batchVerdicts > 0, "verdicts should be batched: \(stats)")
                #expect(engine.failure == nil)
            }
        }
    }

    @Test("Random loss of 1% and 10% over 20 000 packets lies in the binomial 99.9% interval",
          arguments: [1.0, 10.0])
    func randomLoss(percent: Double) throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      parameters: .init(loss: .random(probability: Percentage(percent))), seed: 11)
            try F.withEngine(net, [spec]) { engine in
                let n = 20_000
                let (sent, arrivals) = try F.probe(net, count: n, packetsPerSecond: 40_000)
                #expect(sent == n)
                let stats = try #require(engine.stats.first)
                // Every loss on the wire is one of the engine's decisions (nothing else dropped).
                #expect(stats.decisions.droppedByLoss == UInt64(n - arrivals.count), "\(stats)")
                let measured = Double(n - arrivals.count) / Double(n)
                let interval = F.binomialInterval(n: n, p: percent / 100)
                #expect(interval.contains(measured), "measured \(measured), expected \(interval)")
            }
        }
    }

    @Test("Gilbert–Elliott loss: the mean burst length is near 1/r")
    func gilbertElliottBursts() throws {
        try F.withLine { net in
            // p = 2%, r = 25%: bursts of mean 4, stationary loss p/(p+r) ≈ 7.4%.
            let ge = GilbertElliott(p: Percentage(2), r: Percentage(25))
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(loss: .gilbertElliott(ge)), seed: 5)
            try F.withEngine(net, [spec]) { _ in
                let n = 20_000
                let (_, arrivals) = try F.probe(net, count: n, packetsPerSecond: 40_000)
                var received = [Bool](repeating: false, count: n)
                for a in arrivals where a.sequence < UInt64(n) { received[Int(a.sequence)] = true }
                var bursts: [Int] = []
                var run = 0
                for ok in received {
                    if ok { if run > 0 { bursts.append(run) }; run = 0 } else { run += 1 }
                }
                if run > 0 { bursts.append(run) }
                let mean = Double(bursts.reduce(0, +)) / Double(max(bursts.count, 1))
                #expect(bursts.count > 150, "\(bursts.count) bursts")
                #expect(abs(mean - 4) <= 0.8, "mean burst length \(mean) over \(bursts.count) bursts, expected 1/r = 4")
                let lossRate = Double(n - arrivals.count) / Double(n)
                #expect(abs(lossRate - 0.02 / 0.27) < 0.02, "loss rate \(lossRate)")
            }
        }
    }

    @Test("20 ms delay: the median one-way delay is 20 ms ± 0.5 ms")
    func constantDelay() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .ms(20))))
            try F.withEngine(net, [spec]) { _ in
                let (_, arrivals) = try F.probe(net, count: 2000, packetsPerSecond: 10_000, batch: 1)
                #expect(arrivals.count == 2000)
                let delays = arrivals.map { Double($0.delay) / 1e6 }.sorted()
                let median = F.quantile(delays, 0.5)
                #expect(abs(median - 20) <= 0.5, "median \(median) ms")
                #expect((delays.first ?? 0) >= 19.99, "a packet left early: \(delays.first ?? 0) ms")
                // A constant delay keeps the order.
                #expect(arrivals.map(\.sequence) == (0..<2000).map(UInt64.init))
            }
        }
    }

    @Test("Jitter follows the distribution: uniform stays within ±J, normal has σ = J tails")
    func jitterShapes() throws {
        func delays(_ distribution: DelayDistribution?) throws -> [Double] {
            try F.withLine { net in
                let spec = ImpairmentSpec(link: try F.link("router→server"),
                                          parameters: .init(delay: .init(delay: .ms(20), jitter: .ms(5), distribution: distribution)),
                                          seed: 3)
                return try F.withEngine(net, [spec]) { _ in
                    let (_, arrivals) = try F.probe(net, count: 3000, packetsPerSecond: 10_000, batch: 1)
                    #expect(arrivals.count == 3000)
                    return arrivals.map { Double($0.delay) / 1e6 - 20 }.sorted()
                }
            }
        }
        let uniform = try delays(nil)
        let normal = try delays(.normal)
        let uIQR = F.quantile(uniform, 0.75) - F.quantile(uniform, 0.25)
        let nIQR = F.quantile(normal, 0.75) - F.quantile(normal, 0.25)
        // Uniform on [−5, 5): IQR 5 ms, nothing below −5 ms (a packet never leaves early) and
        // nothing above +5 ms but the path's µs (p99.5: a loaded machine may wake us late).
        #expect(abs(uIQR - 5) < 0.6, "uniform IQR \(uIQR) ms")
        #expect((uniform.first ?? -99) >= -5.001, "uniform minimum \(uniform.first ?? 0) ms")
        #expect(F.quantile(uniform, 0.995) < 5.3, "uniform p99.5 \(F.quantile(uniform, 0.995)) ms")
        // Normal, σ = 5 ms: IQR 1.349σ ≈ 6.7 ms; about 32% beyond ±σ.
        #expect(abs(nIQR - 6.74) < 0.8, "normal IQR \(nIQR) ms")
        let beyond = Double(normal.filter { abs($0) > 5.05 }.count) / Double(normal.count)
        #expect(beyond > 0.25 && beyond < 0.39, "normal: \(beyond) beyond ±σ")
    }

    @Test("Dropping the 5th data segment makes exactly that segment be retransmitted")
    func dropFifthDataSegment() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      actions: [TargetedAction(match: .tcpData, nth: [5], action: .drop)])
            // No tail-loss probes: on a loaded machine a TLP can resend the last segment of a
            // flight too, and then two segments would be retransmitted, only one of them lost.
            try net.namespace(F.client).setSysctl("net.ipv4.tcp_early_retrans", "0")
            try F.withEngine(net, [spec], options: .init(keepDecisions: 10_000)) { engine in
                let listener = try TCPHelper.listen(in: try net.namespace(F.server), on: F.serverAddress, port: 5001)
                defer { close(listener) }
                let client = try TCPHelper.connect(in: try net.namespace(F.client), to: F.serverAddress, port: 5001)
                defer { close(client) }
                let server = try TCPHelper.accept(listener)
                defer { close(server) }
                let data = (0..<40_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
                try TCPHelper.sendAll(client, data)
                let received = try TCPHelper.receive(server, count: data.count)
                #expect(received == data)
                let info = TCPHelper.tcpInfo(client)
                #expect(info.total_retrans == 1, "sender retransmitted \(info.total_retrans) segments")

                // The decision log: the 5th data segment dropped, its sequence number seen again
                // exactly once later (the retransmission), no other data segment seen twice.
                let records = engine.decisions.compactMap { entry -> DecisionRecord? in
                    if case .packet(let r) = entry.event, r.headers.transport == 6, r.headers.payloadLength > 0 { return r }
                    return nil
                }
                let dropped = records.filter { $0.verdict == .drop }
                #expect(dropped.count == 1)
                let target = try #require(dropped.first)
                #expect(target.rule == .action(spec: 0, action: 0, nth: 5))
                #expect(records.firstIndex(of: target) == 4, "the dropped one is the 5th data segment")
                let again = records.filter { $0.headers.tcpSequence == target.headers.tcpSequence && $0.index > target.index }
                #expect(again.count == 1 && again.first?.verdict == .accept)
                let sequences = records.map(\.headers.tcpSequence)
                #expect(Set(sequences).count == sequences.count - 1, "only the dropped segment appears twice")
            }
        }
    }

    @Test("The same seed gives the same decision log; another seed another")
    func deterministicLog() throws {
        let directory = TestSupportDirectory()
        defer { directory.remove() }
        func run(seed: UInt64, name: String) throws -> [String] {
            try F.withLine { net in
                let spec = ImpairmentSpec(
                    link: try F.link("router→server"),
                    parameters: .init(delay: .init(delay: .ms(2), jitter: .ms(1), distribution: .normal),
                                      loss: .random(probability: Percentage(10)),
                                      duplicate: Duplicate(probability: Percentage(5)),
                                      corrupt: Corrupt(probability: Percentage(5)),
                                      reorder: Reorder(probability: Percentage(10))))
                let path = directory.path + "/\(name).log"
                try F.withEngine(net, [spec], seed: seed, options: .init(decisionLogPath: path)) { engine in
                    _ = try F.probe(net, count: 2000, packetsPerSecond: 20_000, sourcePort: 41000)
                    #expect(engine.stats.first?.decisions.packets == 2000)
                }
                let text = try #require(DecisionLog.read(path))
                return DecisionLog.linesByPath(text)["router→server"] ?? []
            }
        }
        let a = try run(seed: 42, name: "a")
        let b = try run(seed: 42, name: "b")
        let c = try run(seed: 43, name: "c")
        #expect(a.count == 2000)
        #expect(a == b, "same seed, same packets: first difference at \(Array(zip(a, b)).firstIndex { $0 != $1 } ?? -1)")
        #expect(a != c)
        #expect(a.contains { $0.contains(" drop reason=loss") } && a.contains { $0.contains(" dup_us=") }
                && a.contains { $0.contains(" corrupt") } && a.contains { $0.contains(" reorder") })
    }

    @Test("A duplicate SYN delivered 300 ms late draws a challenge ACK (RFC 5961), not a RST")
    func lateDuplicateSYN() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      actions: [TargetedAction(match: .tcpSYN, nth: [1], action: .duplicate(copyDelay: .ms(300)))])
            try F.withEngine(net, [spec]) { engine in
                let serverNS = try net.namespace(F.server)
                let before = F.counters("netstat", in: serverNS).merging(F.counters("snmp", in: serverNS)) { a, _ in a }
                let listener = try TCPHelper.listen(in: serverNS, on: F.serverAddress, port: 5002)
                defer { close(listener) }
                let client = try TCPHelper.connect(in: try net.namespace(F.client), to: F.serverAddress, port: 5002)
                defer { close(client) }
                let server = try TCPHelper.accept(listener)
                defer { close(server) }
                usleep(450_000)   // the copy arrives at ~300 ms
                let after = F.counters("netstat", in: serverNS).merging(F.counters("snmp", in: serverNS)) { a, _ in a }
                #expect(engine.stats.first?.injected == 1)
                #expect((after["TcpExtTCPSYNChallenge"] ?? 0) - (before["TcpExtTCPSYNChallenge"] ?? 0) == 1)
                #expect((after["TcpOutRsts"] ?? 0) - (before["TcpOutRsts"] ?? 0) == 0)
                // The connection survived: data still flows both ways.
                try TCPHelper.sendAll(client, Array("ping".utf8))
                #expect(try TCPHelper.receive(server, count: 4) == Array("ping".utf8))
                try TCPHelper.sendAll(server, Array("pong".utf8))
                #expect(try TCPHelper.receive(client, count: 4) == Array("pong".utf8))
            }
        }
    }

    @Test("A scheduled change takes effect within 1 ms of its time")
    func scheduledChange() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      schedule: [ScheduledChange(at: .ms(300), parameters: .init(delay: .init(delay: .ms(30))))])
            try F.withEngine(net, [spec]) { engine in
                let (_, arrivals) = try F.probe(net, count: 6000, packetsPerSecond: 10_000, batch: 1)
                #expect(arrivals.count == 6000)
                let change = engine.startTime + 300_000_000
                let early = arrivals.filter { $0.sentMonotonic + 1_000_000 < change }
                let late = arrivals.filter { $0.sentMonotonic > change + 1_000_000 }
                #expect(early.count > 2000 && late.count > 2000, "\(early.count) before, \(late.count) after")
                let earlyMax = early.map(\.delay).max() ?? 0
                let lateMin = late.map(\.delay).min() ?? 0
                #expect(earlyMax < 5_000_000, "a packet sent >1 ms before the change was delayed \(earlyMax) ns")
                #expect(lateMin >= 29_990_000, "a packet sent >1 ms after the change was delayed only \(lateMin) ns")
                let applied = try #require(engine.stats.first?.appliedChanges.first)
                #expect(applied.applied >= applied.due && applied.applied - applied.due < 1_000_000,
                        "applied \(Int64(applied.applied) - Int64(applied.due)) ns after its time")
            }
        }
    }

    @Test("When the engine dies, traffic stops (not unimpaired) and the owner is told")
    func deathIsDetected() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .ms(1))))
            let told = Mutex<[UserspaceEngineFailure]>([])
            let options = UserspaceEngine.Options(onFailure: { failure in told.withLock { $0.append(failure) } })
            let engine = try UserspaceEngine.start(network: net, specs: [spec], seed: 1, options: options)
            var stopped = false
            defer { if !stopped { engine.stop() } }
            #expect(try F.probe(net, count: 200, packetsPerSecond: 20_000).arrivals.count == 200)

            engine.simulateCrash(path: 0)
            let deadline = fl_monotonic_ns() + 1_000_000_000
            while engine.failure == nil && fl_monotonic_ns() < deadline { usleep(5_000) }
            let failure = try #require(engine.failure, "no failure reported within 1 s")
            #expect(failure.path == "router→server")
            #expect(told.withLock { $0.count } == 1)
            #expect(try F.probe(net, count: 500, packetsPerSecond: 20_000, quiet: 200_000_000).arrivals.isEmpty,
                    "packets passed a dead engine")
            let rules = try FirewallProbe.forwardRules(in: try net.namespace(F.router))
            #expect(rules.contains("NFQUEUE"), "the rules must stay while the engine is dead")

            engine.stop()
            stopped = true
            #expect(!(try FirewallProbe.forwardRules(in: try net.namespace(F.router))).contains("NFQUEUE"))
            #expect(try F.probe(net, count: 200, packetsPerSecond: 20_000).arrivals.count == 200, "stop() restores the path")
        }
    }

    @Test("Corruption: the receiver's checksum discards every corrupted datagram")
    func corruption() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      parameters: .init(corrupt: Corrupt(probability: Percentage(100))))
            try F.withEngine(net, [spec]) { engine in
                let serverNS = try net.namespace(F.server)
                let before = F.counters("snmp", in: serverNS)["UdpInCsumErrors"] ?? 0
                let (_, arrivals) = try F.probe(net, count: 500, size: 200, packetsPerSecond: 20_000)
                let after = F.counters("snmp", in: serverNS)["UdpInCsumErrors"] ?? 0
                #expect(arrivals.isEmpty)
                #expect(after - before == 500)
                #expect(engine.stats.first?.decisions.corrupted == 500)
            }
        }
    }

    @Test("Duplication 100%: every packet arrives twice, the copy through the raw socket")
    func duplication() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      parameters: .init(duplicate: Duplicate(probability: Percentage(100))))
            try F.withEngine(net, [spec]) { engine in
                let (_, arrivals) = try F.probe(net, count: 1000, packetsPerSecond: 20_000)
                #expect(arrivals.count == 2000)
                var seen = [UInt64: Int]()
                for a in arrivals { seen[a.sequence, default: 0] += 1 }
                #expect(seen.count == 1000 && seen.values.allSatisfy { $0 == 2 })
                #expect(engine.stats.first?.injected == 1000)
            }
        }
    }

    @Test("Reorder 25% with 10 ms delay: a quarter of the packets overtake the rest")
    func reordering() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      parameters: .init(delay: .init(delay: .ms(10)), reorder: Reorder(probability: Percentage(25))),
                                      seed: 9)
            try F.withEngine(net, [spec]) { _ in
                let n = 4000
                let (_, arrivals) = try F.probe(net, count: n, packetsPerSecond: 20_000)
                #expect(arrivals.count == n)
                let fast = Double(arrivals.filter { $0.delay < 5_000_000 }.count) / Double(n)
                #expect(F.binomialInterval(n: n, p: 0.25).contains(fast), "\(fast) sent at once")
                // Each packet sent at once overtakes the delayed ones sent up to 10 ms before it:
                // those arrive after a higher sequence number.
                var highest: UInt64 = 0
                var overtaken = 0
                for a in arrivals {
                    if a.sequence < highest { overtaken += 1 } else { highest = a.sequence }
                }
                #expect(overtaken > n / 2, "\(overtaken) packets arrived after a later one")
            }
        }
    }

    @Test("Rate 10 mbit: throughput matches and the queue limit tail-drops a burst")
    func rateAndQueueLimit() throws {
        try F.withLine { net in
            let rate = RateLimit(rate: .mbit(10), queueLimit: .packets(50))
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(rate: rate))
            try F.withEngine(net, [spec]) { engine in
                // 1000-byte datagrams (1042 on the wire with IP/UDP/Ethernet headers): 0.83 ms each.
                let (_, arrivals) = try F.probe(net, count: 400, size: 1000, packetsPerSecond: 1000, batch: 1)
                #expect(arrivals.count == 400, "below the rate nothing is dropped")
                // Each datagram occupies the link 0.83 ms; below the rate no standing queue forms
                // (a late sender may bunch a few datagrams, hence the median).
                let median = F.quantile(arrivals.map { Double($0.delay) / 1e6 }.sorted(), 0.5)
                #expect(median > 0.8 && median < 1.5, "median delay \(median) ms, expected about the 0.83 ms wire time")

                let (_, burst) = try F.probe(net, count: 300, size: 1000, packetsPerSecond: nil, batch: 64, port: 9001)
                let stats = try #require(engine.stats.first)
                #expect(stats.decisions.droppedByLimit > 200, "\(stats)")
                #expect(burst.count >= 50 && burst.count <= 100, "\(burst.count) of a 300-packet burst passed a 50-packet queue")
                let times = burst.map(\.receivedRealtime).sorted()
                if let first = times.first, let last = times.last, burst.count > 10 {
                    let bits = Double((burst.count - 1) * (1000 + 8 + 20 + 14) * 8)
                    let measured = bits / (Double(last - first) / 1e9)
                    #expect(abs(measured - 10e6) / 10e6 < 0.05, "measured \(measured / 1e6) Mbit/s")
                }
            }
        }
    }

    @Test("IPv6 is queued and impaired too (delay, and duplicates injected through the raw IPv6 socket)")
    func ipv6Delay() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      parameters: .init(delay: .init(delay: .ms(5)), duplicate: Duplicate(probability: Percentage(100))))
            try F.withEngine(net, [spec]) { engine in
                let receiver = try UDPProbeReceiver(in: try net.namespace(F.server), port: 9006, ipv6: true)
                receiver.start()
                let sender = try UDPProbeSender(in: try net.namespace(F.client), to: F.serverAddress6, port: 9006)
                sender.send(count: 300, batch: 1, packetsPerSecond: 5000)
                receiver.waitUntilQuiet()
                let arrivals = receiver.stop()
                #expect(arrivals.count == 600)
                #expect(Set(arrivals.map(\.sequence)).count == 300)
                let median = F.quantile(arrivals.map { Double($0.delay) / 1e6 }.sorted(), 0.5)
                #expect(abs(median - 5) < 0.5, "median \(median) ms")
                #expect(engine.stats.first?.injected == 300)
            }
        }
    }

    @Test("Both directions at once, each with its own queue and thread: TCP's RTT is the sum")
    func bothDirections() throws {
        try F.withLine { net in
            let specs = [ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .ms(10)))),
                         ImpairmentSpec(link: try F.link("router→client"), parameters: .init(delay: .init(delay: .ms(5))))]
            try F.withEngine(net, specs) { engine in
                #expect(engine.paths.count == 2)
                let listener = try TCPHelper.listen(in: try net.namespace(F.server), on: F.serverAddress, port: 5003)
                defer { close(listener) }
                let start = fl_monotonic_ns()
                let client = try TCPHelper.connect(in: try net.namespace(F.client), to: F.serverAddress, port: 5003)
                defer { close(client) }
                let handshake = Double(fl_monotonic_ns() - start) / 1e6
                let server = try TCPHelper.accept(listener)
                defer { close(server) }
                // connect() returns when the SYN-ACK is back: one round trip, 10 + 5 ms (plus
                // however late the namespace's thread gets the CPU back on a busy machine).
                #expect(handshake > 14.9 && handshake < 30, "handshake took \(handshake) ms")
                for _ in 0..<5 {
                    try TCPHelper.sendAll(client, [1, 2, 3])
                    _ = try TCPHelper.receive(server, count: 3)
                    try TCPHelper.sendAll(server, [4])
                    _ = try TCPHelper.receive(client, count: 1)
                }
                let rtt = Double(TCPHelper.tcpInfo(client).rtt) / 1000
                #expect(rtt > 14.5 && rtt < 17, "smoothed RTT \(rtt) ms")
                #expect(engine.stats.allSatisfy { $0.decisions.packets > 5 })
            }
        }
    }

    @Test("Two stages on one router (in from the client, out to the server): delays add up, as through two netem qdiscs")
    func stagesInSeriesDelay() throws {
        try F.withLine { net in
            let specs = [ImpairmentSpec(link: try F.link("client→router"), parameters: .init(delay: .init(delay: .ms(20)))),
                         ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .ms(30))))]
            try F.withEngine(net, specs) { engine in
                let (_, arrivals) = try F.probe(net, count: 500, packetsPerSecond: 5_000, batch: 1)
                #expect(arrivals.count == 500)
                let delays = arrivals.map { Double($0.delay) / 1e6 }.sorted()
                let median = F.quantile(delays, 0.5)
                #expect(abs(median - 50) <= 1, "median \(median) ms (one stage alone: 20 or 30)")
                #expect((delays.first ?? 0) >= 49.99, "a packet skipped a stage: \(delays.first ?? 0) ms")
                // Each stage decided every packet once.
                #expect(engine.stats.map(\.decisions.packets).sorted() == [500, 500], "\(engine.stats.map(\.decisions.packets))")
            }
        }
    }

    @Test("Two stages on one router: 10 % loss at each loses 19 % (binomial 99.9 % interval)")
    func stagesInSeriesLoss() throws {
        try F.withLine { net in
            let specs = [ImpairmentSpec(link: try F.link("client→router"), parameters: .init(loss: .random(probability: Percentage(10)))),
                         ImpairmentSpec(link: try F.link("router→server"), parameters: .init(loss: .random(probability: Percentage(10))))]
            try F.withEngine(net, specs, seed: 3) { _ in
                let count = 20_000
                let (sent, arrivals) = try F.probe(net, count: count, packetsPerSecond: 20_000, batch: 8)
                #expect(sent == count)
                let lost = Double(count - arrivals.count) / Double(count)
                let interval = F.binomialInterval(n: count, p: 0.19)
                #expect(interval.contains(lost), "lost \(lost), expected within \(interval)")
            }
        }
    }

    @Test("update() changes the parameters of a running placement at once")
    func ownerUpdate() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"))
            try F.withEngine(net, [spec], options: .init(keepDecisions: 100)) { engine in
                try engine.update(placement: 0, parameters: .init(delay: .init(delay: .ms(10))))
                usleep(20_000)
                let (_, arrivals) = try F.probe(net, count: 200, packetsPerSecond: 5000, batch: 1)
                let median = F.quantile(arrivals.map { Double($0.delay) / 1e6 }.sorted(), 0.5)
                #expect(abs(median - 10) < 0.5, "median \(median) ms")
                #expect(engine.decisions.first.map { if case .change(_, nil, nil, 1) = $0.event { true } else { false } } == true)
                #expect(throws: UserspaceEngineError.self) { try engine.update(placement: 3, parameters: .none) }
            }
        }
    }

    /// Without SCHED_FIFO (rootless, or not asked for) the release helpers wait on the other CPUs
    /// for the same release times (ReleaseHelpers.swift). They only run the worker's own release
    /// step under its lock, so the decisions are those of one waiting thread, packet for packet;
    /// how much sooner packets leave is the benchmark's to show (scripts/bench impairment --rootless).
    @Test("Without SCHED_FIFO the release helpers take part: the same decisions as one waiting thread, every packet in order, no thread left")
    func releaseHelpers() throws {
        let directory = TestSupportDirectory()
        defer { directory.remove() }
        func threads() -> Int {
            guard let d = opendir("/proc/self/task") else { return -1 }
            defer { closedir(d) }
            var n = 0
            while readdir(d) != nil { n += 1 }
            return n
        }
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .ms(5))))
            func run(_ timing: ReleaseTiming, name: String) throws -> (log: [String], arrivals: [UDPProbe.Arrival], passes: UInt64?) {
                let path = directory.path + "/\(name).log"
                var result: (arrivals: [UDPProbe.Arrival], passes: UInt64?) = ([], nil)
                try F.withEngine(net, [spec], seed: 7, options: .init(decisionLogPath: path, realtimePriority: nil, keepCPUsAwake: false,
                                                                     releaseTiming: timing)) { engine in
                    let (_, arrivals) = try F.probe(net, count: 2000, packetsPerSecond: 5000, sourcePort: 41000)
                    result = (arrivals, engine.stats.first?.helperPasses)
                }
                let text = try #require(DecisionLog.read(path))
                return (DecisionLog.linesByPath(text)["router→server"] ?? [], result.arrivals, result.passes)
            }
            _ = try run(.singleWaiter, name: "warm-up")
            let before = threads()
            let one = try run(.singleWaiter, name: "one")
            let helped = try run(ReleaseTiming(helpers: 2, grace: 0), name: "helped")
            usleep(50_000)
            #expect(threads() == before, "the helpers ended with the engine")
            #expect(one.passes == nil, "no helpers asked for, none started")
            if sysconf(Int32(_SC_NPROCESSORS_ONLN)) > 1 {
                #expect(helped.passes != nil, "helpers on the other CPUs")
            } else {
                #expect(helped.passes == nil, "one CPU: nobody to help")
            }
            #expect(one.log.count == 2000 && helped.log == one.log,
                    "same packets, same decisions: first difference at \(Array(zip(one.log, helped.log)).firstIndex { $0 != $1 } ?? -1)")
            #expect(helped.arrivals.count == 2000)
            let sequences = helped.arrivals.map(\.sequence)
            #expect(sequences == sequences.sorted(), "a constant delay keeps the order")
        }
    }

    @Test("Start and stop leave no descriptor, thread or rule behind")
    func noLeaks() throws {
        func count(_ dir: String) -> Int {
            guard let d = opendir(dir) else { return -1 }
            defer { closedir(d) }
            var n = 0
            while readdir(d) != nil { n += 1 }
            return n
        }
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"),
                                      parameters: .init(delay: .init(delay: .ms(1)), duplicate: Duplicate(probability: Percentage(10))))
            // One warm-up cycle (lazily opened runtime descriptors), then compare.
            try F.withEngine(net, [spec]) { _ in }
            let fds = count("/proc/self/fd"), threads = count("/proc/self/task")
            for _ in 0..<3 {
                try F.withEngine(net, [spec, ImpairmentSpec(link: try F.link("router→client"))],
                                 options: .init(decisionLogPath: "/dev/null")) { _ in
                    _ = try F.probe(net, count: 200, packetsPerSecond: 20_000)
                }
            }
            usleep(50_000)
            #expect(count("/proc/self/fd") == fds)
            #expect(count("/proc/self/task") == threads)
            let rules = try FirewallProbe.forwardRules(in: try net.namespace(F.router))
            #expect(!rules.contains("NFQUEUE"))
        }
    }

    @Test("While it runs the engine holds the CPUs' wake-up latency at 0 (PM QoS); stop lets go; keepCPUsAwake false leaves it alone")
    func keepsCPUsAwake() throws {
        /// The kernel's effective /dev/cpu_dma_latency limit, µs.
        func limit() throws -> Int32 {
            let fd = open("/dev/cpu_dma_latency", O_RDONLY | O_CLOEXEC)
            try #require(fd >= 0, "/dev/cpu_dma_latency: \(Errno.current)")
            defer { close(fd) }
            var value: Int32 = -1
            try #require(read(fd, &value, 4) == 4)
            return value
        }
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .ms(1))))
            let before = try limit()
            try #require(before > 0, "another program already holds the CPUs awake (\(before) µs); cannot tell ours apart")
            let during = try F.withEngine(net, [spec]) { engine throws -> (Bool, Int32) in (engine.holdsCPUsAwake, try limit()) }
            #expect(during.0)
            #expect(during.1 == 0)
            let after = try limit()
            #expect(after == before)
            let without = try F.withEngine(net, [spec], options: .init(keepCPUsAwake: false)) { engine throws -> (Bool, Int32) in
                (engine.holdsCPUsAwake, try limit())
            }
            #expect(!without.0)
            #expect(without.1 == before)
        }
    }

    @Test("stop() removes the rules and delivers what was held")
    func stopReleasesHeld() throws {
        try F.withLine { net in
            let spec = ImpairmentSpec(link: try F.link("router→server"), parameters: .init(delay: .init(delay: .seconds(10))))
            let engine = try UserspaceEngine.start(network: net, specs: [spec], seed: 1)
            let receiver = try UDPProbeReceiver(in: try net.namespace(F.server), port: 9007)
            receiver.start()
            let sender = try UDPProbeSender(in: try net.namespace(F.client), to: F.serverAddress, port: 9007)
            sender.send(count: 100, batch: 10)
            usleep(100_000)
            #expect(receiver.count == 0)
            #expect(engine.stats.first?.held == 100)
            engine.stop()
            receiver.waitUntilQuiet()
            #expect(receiver.stop().count == 100)
            #expect(!(try FirewallProbe.forwardRules(in: try net.namespace(F.router))).contains("NFQUEUE"))
        }
    }
}

/// Reads the router's FORWARD rules (iptables -S) for the tests.
enum FirewallProbe {
    static func forwardRules(in namespace: NetworkNamespace) throws -> String {
        var fds: [Int32] = [-1, -1]
        guard fl_pipe_cloexec(&fds) == 0 else { throw TCPHelper.Failure(description: "pipe") }
        let child = try namespace.spawn(["iptables", "-w", "-S", "FORWARD"], stdout: fds[1], stderr: fds[1])
        close(fds[1])
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fds[0], $0.baseAddress, $0.count) }
            if n <= 0 { break }
            out += buffer[0..<n]
        }
        close(fds[0])
        child.wait()
        return String(decoding: out, as: UTF8.self)
    }
}

/// A temporary directory for decision logs.
struct TestSupportDirectory {
    let path: String
    init() {
        var template = Array("/tmp/faultline-userspace-XXXXXX".utf8CString)
        path = template.withUnsafeMutableBufferPointer { b in
            b.baseAddress.flatMap { mkdtemp($0) }.map { String(cString: $0) } ?? "/tmp/faultline-userspace-\(getpid())"
        }
    }
    func remove() {
        if let dir = opendir(path) {
            while let entry = readdir(dir) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if name != "." && name != ".." { unlink(path + "/" + name) }
            }
            closedir(dir)
        }
        rmdir(path)
    }
}
