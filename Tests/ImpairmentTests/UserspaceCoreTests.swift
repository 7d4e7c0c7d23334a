import Netlink
import CLinux
import Glibc
@testable import Impairment
import Testing

/// The userspace engine's deterministic core and its verdict batching, without a kernel.
@Suite("Userspace engine: decision core")
struct UserspaceCoreTests {
    /// Records what the core asks for.
    struct Recorder: DecisionSink {
        var verdicts: [(id: UInt32, accept: Bool, payload: [UInt8]?)] = []
        var injected: [[UInt8]] = []
        mutating func verdict(id: UInt32, accept: Bool, payload: UnsafeRawBufferPointer?) {
            verdicts.append((id, accept, payload.map { Array($0) }))
        }
        mutating func inject(_ packet: [UInt8], version: UInt8) { injected.append(packet) }
    }

    static func checksum(_ bytes: ArraySlice<UInt8>) -> UInt16 {
        var sum: UInt32 = 0
        var i = bytes.startIndex
        while i + 1 < bytes.endIndex { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.endIndex { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// An IPv4 packet 198.18.1.2 → 198.18.2.2 with a UDP or TCP header and `payload` bytes.
    static func ipv4(tcp: Bool = false, flags: UInt8 = 0x10, seq: UInt32 = 1000, payload: Int = 20,
                     sourcePort: UInt16 = 40000, tos: UInt8 = 0) -> [UInt8] {
        let l4 = tcp ? 20 : 8
        let total = 20 + l4 + payload
        var p = [UInt8](repeating: 0, count: total)
        p[0] = 0x45; p[1] = tos
        p[2] = UInt8(total >> 8); p[3] = UInt8(total & 0xff)
        p[8] = 63; p[9] = tcp ? 6 : 17
        p[12...15] = [198, 18, 1, 2]; p[16...19] = [198, 18, 2, 2]
        let c = checksum(p[0..<20])
        p[10] = UInt8(c >> 8); p[11] = UInt8(c & 0xff)
        p[20] = UInt8(sourcePort >> 8); p[21] = UInt8(sourcePort & 0xff)
        p[22] = 0x13; p[23] = 0x89   // 5001
        if tcp {
            p[24] = UInt8(seq >> 24); p[25] = UInt8((seq >> 16) & 0xff); p[26] = UInt8((seq >> 8) & 0xff); p[27] = UInt8(seq & 0xff)
            p[32] = 0x50; p[33] = flags
        } else {
            p[24] = UInt8((8 + payload) >> 8); p[25] = UInt8((8 + payload) & 0xff)
        }
        for i in (20 + l4)..<total { p[i] = UInt8(truncatingIfNeeded: i) }
        return p
    }

    /// Runs `packets` through a fresh core (arrivals 100 µs apart, releases in between) and
    /// returns the log lines and the recorder.
    static func run(_ spec: ImpairmentSpec, seed: UInt64, packets: [[UInt8]]) throws -> ([String], Recorder) {
        try run([spec], seed: seed, packets: packets)
    }

    static func run(_ specs: [ImpairmentSpec], seed: UInt64, packets: [[UInt8]]) throws -> ([String], Recorder) {
        var core = try DecisionCore(path: "router→server", specs: specs, seed: seed, start: 1_000_000_000)
        var sink = Recorder()
        var now: UInt64 = 1_000_000_000
        for (i, packet) in packets.enumerated() {
            now += 100_000
            core.release(now: now, sink: &sink)
            var bytes = packet
            bytes.withUnsafeMutableBytes { core.arrive(id: UInt32(i + 1), packet: $0, now: now, sink: &sink) }
        }
        core.release(now: now + 10_000_000_000, sink: &sink)
        return (core.drainEvents().map { $0.line(path: core.path) }, sink)
    }

    static var mixedSpec: ImpairmentSpec {
        get throws {
            ImpairmentSpec(link: try LinkDirection(parsing: "router→server"),
                           parameters: .init(delay: .init(delay: .ms(5), jitter: .ms(2), correlation: Percentage(25), distribution: .paretonormal),
                                             loss: .random(probability: Percentage(7)),
                                             duplicate: Duplicate(probability: Percentage(4)),
                                             corrupt: Corrupt(probability: Percentage(3)),
                                             reorder: Reorder(probability: Percentage(10), gap: 3)),
                           actions: [TargetedAction(match: .tcpData, nth: [3], action: .drop)])
        }
    }

    static var traffic: [[UInt8]] {
        (0..<3000).map { i in i % 3 == 0 ? ipv4(tcp: true, seq: UInt32(i * 100), payload: i % 2 == 0 ? 0 : 100) : ipv4(payload: 10 + i % 50) }
    }

    @Test("The hold queue releases in (time, arrival) order whatever the mix of in-order and overtaking packets",
          arguments: [0, 1, 50, 100] as [UInt64])
    func holdQueueOrder(jitterPercent: UInt64) throws {
        var generator = Xoshiro256StarStar(seed: 7 + jitterPercent)
        var queue = HoldQueue()
        var reference: [(time: UInt64, sequence: UInt64)] = []
        var released: [(time: UInt64, sequence: UInt64)] = []
        var expectedBytes = 0
        var now: UInt64 = 0
        for sequence in 0..<20_000 as Range<UInt64> {
            now += 1_000
            // Base delay 20 ms; a jitterPercent share of packets get up to ±5 ms (they may overtake).
            var time = now + 20_000_000
            if generator.next() % 100 < jitterPercent {
                time = time - 5_000_000 + generator.next() % 10_000_000
            }
            let length = Int32(40 + generator.next() % 1400)
            queue.push(HeldPacket(time: time, sequence: sequence, id: UInt32(sequence), length: length, kind: .accept, bytes: nil))
            reference.append((time, sequence))
            expectedBytes += Int(length)
            // Release what is due now, as the engine does.
            while let top = queue.first, top.time <= now {
                let popped = queue.pop()
                let item = try #require(popped)
                #expect(item.time == top.time && item.sequence == top.sequence)
                released.append((item.time, item.sequence))
                expectedBytes -= Int(item.length)
            }
            #expect(queue.bytes == expectedBytes)
        }
        while let item = queue.pop() { released.append((item.time, item.sequence)); expectedBytes -= Int(item.length) }
        #expect(queue.isEmpty && queue.count == 0 && queue.bytes == 0 && expectedBytes == 0)
        let sorted = reference.sorted { $0.time < $1.time || ($0.time == $1.time && $0.sequence < $1.sequence) }
        #expect(released.count == sorted.count)
        #expect(zip(released, sorted).allSatisfy { $0.time == $1.time && $0.sequence == $1.sequence })
    }

    @Test("Replay: the same seed and packet sequence give the same log, every verdict exactly once")
    func replay() throws {
        let (a, sinkA) = try Self.run(try Self.mixedSpec, seed: 99, packets: Self.traffic)
        let (b, _) = try Self.run(try Self.mixedSpec, seed: 99, packets: Self.traffic)
        let (c, _) = try Self.run(try Self.mixedSpec, seed: 100, packets: Self.traffic)
        #expect(a.count == 3000)
        #expect(a == b)
        #expect(a != c)
        // Every queued packet got exactly one verdict.
        #expect(Set(sinkA.verdicts.map(\.id)).count == 3000 && sinkA.verdicts.count == 3000)
        #expect(sinkA.injected.count == a.filter { $0.contains("dup_us=") }.count)
        let dropped = a.filter { $0.contains(" drop reason=loss") }.count
        #expect(dropped > 120 && dropped < 300, "\(dropped) of 3000 lost at 7%")
    }

    @Test("Targeted actions count only their matching packets: the 5th and 6th data segments")
    func nthMatching() throws {
        let spec = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"),
                                  parameters: .init(loss: .random(probability: Percentage(100))),
                                  actions: [TargetedAction(match: .tcpData, nth: [5, 6], action: .drop)])
        // Data segments interleaved with pure ACKs and a UDP datagram; the spec's own match
        // takes only UDP, so TCP is untouched except by the action.
        var s = spec
        s.match = PacketMatch(transport: .udp)
        var packets: [[UInt8]] = []
        for i in 0..<10 {
            packets.append(Self.ipv4(tcp: true, seq: UInt32(1000 + i * 100), payload: 100))
            packets.append(Self.ipv4(tcp: true, flags: 0x10, seq: 0, payload: 0))
        }
        packets.append(Self.ipv4(payload: 10))
        let (lines, sink) = try Self.run(s, seed: 1, packets: packets)
        let drops = sink.verdicts.filter { !$0.accept }.map(\.id)
        // Data segments are packets 1, 3, 5, ...: the 5th and 6th are ids 9 and 11; the UDP one (21) is lost.
        #expect(drops == [9, 11, 21])
        #expect(lines[8].contains("rule=actions[0]#5") && lines[10].contains("rule=actions[0]#6"))
    }

    @Test("every: N acts on each N-th matching packet, besides nth's numbers")
    func everyNth() throws {
        let spec = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"),
                                  actions: [TargetedAction(match: .tcpData, nth: [2], every: 4, action: .drop)])
        let packets = (0..<12).map { Self.ipv4(tcp: true, seq: UInt32(1000 + $0 * 100), payload: 100) }
        let (_, sink) = try Self.run(spec, seed: 1, packets: packets)
        #expect(sink.verdicts.filter { !$0.accept }.map(\.id) == [2, 4, 8, 12])
    }

    @Test("Several impairments on one direction: each packet takes the first entry whose match takes it")
    func firstMatchingEntry() throws {
        let acks = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"), match: .tcpPureACK,
                                  parameters: .init(loss: .random(probability: Percentage(100))))
        let rest = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"), parameters: .none)
        var packets: [[UInt8]] = []
        for i in 0..<5 {
            packets.append(Self.ipv4(tcp: true, seq: UInt32(1000 + i * 100), payload: 100))
            packets.append(Self.ipv4(tcp: true, flags: 0x10, seq: 0, payload: 0))
        }
        let (_, sink) = try Self.run([acks, rest], seed: 1, packets: packets)
        #expect(sink.verdicts.filter { !$0.accept }.map(\.id) == [2, 4, 6, 8, 10])
    }

    @Test("Corruption flips exactly one bit of the transport payload; CE marking keeps the IPv4 checksum valid")
    func packetSurgery() throws {
        var generator = Xoshiro256StarStar(seed: 1)
        for _ in 0..<200 {
            let original = Self.ipv4(payload: 64)
            var packet = original
            let headers = original.withUnsafeBytes { PacketHeaders(parsing: $0) }
            let flipped = packet.withUnsafeMutableBytes {
                DecisionCore.flipBit($0, length: original.count, headers: headers, generator: &generator)
            }
            #expect(flipped)
            let differing = zip(original, packet).enumerated().filter { $0.element.0 != $0.element.1 }
            #expect(differing.count == 1)
            if let d = differing.first {
                #expect(d.offset >= 28)
                #expect((d.element.0 ^ d.element.1).nonzeroBitCount == 1)
            }
        }
        var ect = Self.ipv4(payload: 10, tos: 0x02)
        let headers = ect.withUnsafeBytes { PacketHeaders(parsing: $0) }
        #expect(headers.ecn == 2)
        #expect(ect.withUnsafeMutableBytes { DecisionCore.markCE($0, headers: headers) })
        #expect(ect[1] & 3 == 3)
        #expect(Self.checksum(ect[0..<20]) == 0, "the IPv4 header checksum must still verify")
    }

    @Test("strip-window-scale: a SYN's window-scale option becomes three NOPs, the TCP checksum verifies again; other packets untouched")
    func stripWindowScale() throws {
        // A SYN with MSS, SACK-permitted, NOP, window scale 7 (20 option bytes → data offset 10 words... 12 bytes: 8 words).
        let options: [UInt8] = [2, 4, 0x05, 0xB4, 4, 2, 1, 3, 3, 7, 1, 1]
        var syn = Self.ipv4(tcp: true, flags: 0x02, payload: 0)
        syn.insert(contentsOf: options, at: 40)
        let total = syn.count
        syn[2] = UInt8(total >> 8); syn[3] = UInt8(total & 0xff)
        syn[10] = 0; syn[11] = 0
        let ipSum = Self.checksum(syn[0..<20])
        syn[10] = UInt8(ipSum >> 8); syn[11] = UInt8(ipSum & 0xff)
        syn[32] = UInt8((20 + options.count) / 4) << 4
        func tcpChecksumValid(_ p: [UInt8]) -> Bool {
            let segment = Array(p[20...])
            let pseudo: [UInt8] = Array(p[12..<20]) + [0, 6, UInt8(segment.count >> 8), UInt8(segment.count & 0xff)]
            return Self.checksum(ArraySlice(pseudo + segment)) == 0
        }
        let c = Self.checksum(ArraySlice(Array(syn[12..<20]) + [0, 6, 0, UInt8(syn.count - 20)] + Array(syn[20...])))
        syn[36] = UInt8(c >> 8); syn[37] = UInt8(c & 0xff)
        #expect(tcpChecksumValid(syn))
        var packet = syn
        let headers = syn.withUnsafeBytes { PacketHeaders(parsing: $0) }
        let stripped = packet.withUnsafeMutableBytes { DecisionCore.stripWindowScale($0, length: syn.count, headers: headers) }
        #expect(stripped)
        #expect(Array(packet[40..<52]) == [2, 4, 0x05, 0xB4, 4, 2, 1, 1, 1, 1, 1, 1])
        #expect(tcpChecksumValid(packet))
        #expect(packet[0..<20] == syn[0..<20])
        // A data segment (no SYN) and a SYN without the option pass unchanged.
        var data = Self.ipv4(tcp: true, flags: 0x10, payload: 64)
        let dataHeaders = data.withUnsafeBytes { PacketHeaders(parsing: $0) }
        #expect(!data.withUnsafeMutableBytes { DecisionCore.stripWindowScale($0, length: 104, headers: dataHeaders) })
        var again = packet
        #expect(!again.withUnsafeMutableBytes { DecisionCore.stripWindowScale($0, length: packet.count, headers: headers) })
        // Validated like the other actions: a match that takes no SYN is refused.
        let wrong = TargetedAction(match: PacketMatch(transport: .tcp, payload: .nonEmpty), nth: [1], action: .stripWindowScale)
        #expect(wrong.validate(at: "actions[0]").contains { $0.message.contains("strip-window-scale") })
        #expect(TargetedAction(match: .tcpSYN, nth: [1], every: 1, action: .stripWindowScale).validate(at: "a").isEmpty)
    }

    @Test("Headers: IPv4/IPv6, TCP/UDP fields and the flow text")
    func headers() throws {
        let tcp = Self.ipv4(tcp: true, flags: 0x18, seq: 123_456, payload: 30)
        let h = tcp.withUnsafeBytes { PacketHeaders(parsing: $0) }
        #expect(h.version == 4 && h.transport == 6 && h.sourcePort == 40000 && h.destinationPort == 5001)
        #expect(h.tcpSequence == 123_456 && h.payloadLength == 30 && h.tcpFlagsText == "PA")
        #expect(h.flowDescription == "tcp 198.18.1.2:40000>198.18.2.2:5001")

        var v6 = [UInt8](repeating: 0, count: 40 + 8 + 4)
        v6[0] = 0x60; v6[5] = 12; v6[6] = 17; v6[7] = 64
        v6[8] = 0xfd; v6[10] = 0xfa; v6[11] = 0x17; v6[13] = 1; v6[23] = 2
        v6[24] = 0xfd; v6[26] = 0xfa; v6[27] = 0x17; v6[29] = 2; v6[39] = 2
        v6[40] = 0x9c; v6[41] = 0x40; v6[42] = 0x23; v6[43] = 0x28
        let h6 = v6.withUnsafeBytes { PacketHeaders(parsing: $0) }
        #expect(h6.version == 6 && h6.transport == 17 && h6.payloadLength == 4)
        #expect(h6.flowDescription == "udp [fd00:fa17:1::2]:40000>[fd00:fa17:2::2]:9000")
    }

    @Test("4-state loss: only p13 given behaves like random loss at p13; p14 adds isolated losses")
    func fourStateLoss() throws {
        func lossRate(_ model: FourStateLoss) throws -> Double {
            let spec = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"), parameters: .init(loss: .fourState(model)))
            var state = try SpecState(index: 0, spec: spec, path: "x", seed: 8, nodes: [:], start: 0)
            var lost = 0
            for _ in 0..<200_000 where state.drawLoss() { lost += 1 }
            return Double(lost) / 200_000
        }
        #expect(abs(try lossRate(FourStateLoss(p13: Percentage(2))) - 0.02) < 0.003)
        // p13 = 1%, stay in bursts (p31 = 20%): loss ≈ p13/(p13+p31) ≈ 4.8%; plus p14 = 1% isolated.
        let bursty = try lossRate(FourStateLoss(p13: Percentage(1), p31: Percentage(20), p14: Percentage(1)))
        #expect(bursty > 0.05 && bursty < 0.075, "\(bursty)")
    }

    @Test("Batch verdicts never cover a held packet; every packet gets exactly one verdict")
    func verdictBatching() throws {
        var fds: [Int32] = [-1, -1]
        #expect(socketpair(AF_UNIX, fl_sock_dgram(), 0, &fds) == 0)
        defer { close(fds[0]); close(fds[1]) }
        let writer = VerdictWriter(queue: 7)
        var tracker = OutstandingPackets()
        var generator = Xoshiro256StarStar(seed: 5)
        var held: [UInt32] = []
        var expected: [UInt32: UInt32] = [:]     // id → verdict
        var delivered: [UInt32: UInt32] = [:]
        var kernelQueue = Set<UInt32>()
        func drain() {
            _ = writer.flush(fd: fds[0])
            var buffer = [UInt8](repeating: 0, count: 1 << 18)
            while true {
                let n = buffer.withUnsafeMutableBytes { recv(fds[1], $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                if n <= 0 { break }
                for message in NetlinkMessages(buffer[0..<n]) {
                    // nfgenmsg, then NFQA_VERDICT_HDR: be32 verdict, be32 id
                    guard let header = NetlinkAttributes(message.payload.dropFirst(NFQ.familyHeaderLength)).first(NFQ.attrVerdictHeader),
                          let verdict = header.be32(at: 0), let id = header.be32(at: 4) else { continue }
                    if message.type == NFQ.messageVerdictBatch {
                        for q in kernelQueue where q <= id { delivered[q] = verdict; kernelQueue.remove(q) }
                    } else {
                        #expect(kernelQueue.contains(id))
                        delivered[id] = verdict
                        kernelQueue.remove(id)
                    }
                }
            }
        }
        var id: UInt32 = 100
        for round in 0..<400 {
            for _ in 0..<Int(generator.next() % 8) {
                id += 1
                if generator.next() % 17 == 0 { continue }   // a gap: the kernel dropped it
                kernelQueue.insert(id)
                tracker.arrived(id)
                switch generator.next() % 4 {
                case 0: held.append(id)
                default:
                    let accept = generator.next() % 3 != 0
                    expected[id] = accept ? NFQ.accept : NFQ.drop
                    if tracker.decided(id, accept: accept, single: false) {
                        writer.append(id: id, verdict: expected[id] ?? 0, batch: false, payload: nil, fd: fds[0])
                    }
                }
            }
            // Release some held packets in random order.
            if !held.isEmpty && round % 2 == 0 {
                let k = Int(generator.next() % UInt64(held.count))
                let released = held.remove(at: k)
                expected[released] = NFQ.accept
                if tracker.decided(released, accept: true, single: false) {
                    writer.append(id: released, verdict: NFQ.accept, batch: false, payload: nil, fd: fds[0])
                }
            }
            tracker.flush(into: writer, fd: fds[0])
            drain()
            // A held packet must still be in the kernel's queue.
            for h in held { #expect(kernelQueue.contains(h), "held packet \(h) was verdicted") }
        }
        for h in held {
            expected[h] = NFQ.accept
            if tracker.decided(h, accept: true, single: false) {
                writer.append(id: h, verdict: NFQ.accept, batch: false, payload: nil, fd: fds[0])
            }
        }
        tracker.flush(into: writer, fd: fds[0])
        drain()
        #expect(kernelQueue.isEmpty)
        #expect(delivered == expected)
        #expect(writer.batchVerdicts > 0)
    }
}

extension UserspaceCoreTests {
    @Test("Slots (netem `slot 10ms 10ms packets 3`): releases come in bursts of at most 3, 10 ms apart")
    func slots() throws {
        let spec = ImpairmentSpec(link: try LinkDirection(parsing: "router→server"),
                                  parameters: .init(slot: Slot(timing: .range(min: .ms(10), max: .ms(10)), maxPackets: 3)))
        var core = try DecisionCore(path: "router→server", specs: [spec], seed: 1, start: 0)
        var sink = Recorder()
        var releases: [(time: UInt64, count: Int)] = []
        var now: UInt64 = 0
        var id: UInt32 = 0
        // 20 packets 1 ms apart; step the clock by 100 µs and note each release burst.
        while now < 200_000_000 {
            if now % 1_000_000 == 0 && id < 20 {
                id += 1
                var packet = Self.ipv4(payload: 10)
                packet.withUnsafeMutableBytes { core.arrive(id: id, packet: $0, now: now, sink: &sink) }
            }
            let before = sink.verdicts.count
            core.release(now: now, sink: &sink)
            if sink.verdicts.count > before { releases.append((now, sink.verdicts.count - before)) }
            now += 100_000
        }
        #expect(sink.verdicts.count == 20 && sink.verdicts.allSatisfy(\.accept))
        #expect(releases.allSatisfy { $0.count <= 3 }, "\(releases)")
        let gaps = zip(releases, releases.dropFirst()).map { Int64($1.time) - Int64($0.time) }
        #expect(gaps.allSatisfy { $0 >= 10_000_000 }, "slot gaps \(gaps)")
    }
}
