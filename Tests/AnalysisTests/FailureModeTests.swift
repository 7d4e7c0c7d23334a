@testable import Analysis
import Testing

/// The failure modes of issue #18 (Sources/Analysis/Diagnosis/Failures), on flows built packet by
/// packet (DiagnosisPacketBuilder.swift), each with the look-alike it must not be taken for.
@Suite("Failure modes on synthetic flows")
struct FailureModeTests {
    typealias Segment = DiagnosisScript.Segment
    static let second: Int64 = 1_000_000_000
    static let ms: Int64 = 1_000_000

    static func diagnose(_ script: DiagnosisScript, _ vantages: [DiagnosisScript.Vantage] = [.client, .server],
                         windows: [DiagnosisScript.Vantage: (start: Int64, end: Int64)] = [:]) throws -> [Finding] {
        try DiagnosisSyntheticTests.diagnose(script, vantages, windows: windows).findings
    }

    /// An ICMPv4 error from `source` quoting the first 28 bytes of `quoted` (an IPv4 packet).
    static func icmp(from source: [UInt8], to destination: [UInt8], type: UInt8, code: UInt8, quoting quoted: [UInt8]) -> [UInt8] {
        let body: [UInt8] = [type, code, 0, 0, 0, 0, 0, 0] + Array(quoted.prefix(28))
        var ip: [UInt8] = [0x45, 0]
        ip += DiagnosisScript.be16(UInt16(20 + body.count)) + [0x12, 0x34, 0, 0, 64, 1, 0, 0]
        return ip + source + destination + body
    }

    static func syn(_ s: DiagnosisScript) -> Segment {
        Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240, options: DiagnosisScript.synOptions(scale: 7))
    }

    // MARK: F1 unanswered SYN vs ICMP rejection

    @Test("SYN answered by ICMP admin-prohibited from the router: syn/rejected-by-icmp, where and which errno")
    func icmpRejection() throws {
        var s = DiagnosisScript()
        s.emit(Self.syn(s), at: 0, seenBy: [.client])
        let synBytes = DiagnosisScript.ipv4(Self.syn(s), ipID: 1, ttl: 64, script: s)
        let router: [UInt8] = [198, 18, 0, 254]
        s.appendRaw(.client, .init(time: 150_000, bytes: Self.icmp(from: router, to: s.client, type: 3, code: 13, quoting: synBytes)))
        let findings = try Self.diagnose(s, windows: [.client: (0, 2 * Self.second), .server: (0, 2 * Self.second)])
        let finding = try #require(findings.first { $0.name == "syn/rejected-by-icmp" })
        #expect(finding.evidence["icmp_source"] == "198.18.0.254")
        #expect(finding.evidence["icmp_from_server"] == false)
        #expect(finding.evidence["errno"] == "EHOSTUNREACH")
        #expect(finding.evidence["reached_server_side"] == false)
        #expect(finding.decisiveFrame == 2)
        #expect(!findings.contains { $0.name == "syn/unanswered" || $0.name == "syn/undetermined" })
    }

    @Test("Port unreachable from the server itself: ECONNREFUSED, from the server")
    func icmpPortUnreachable() throws {
        var s = DiagnosisScript()
        s.emit(Self.syn(s), at: 0, seenBy: [.client])
        let synBytes = DiagnosisScript.ipv4(Self.syn(s), ipID: 1, ttl: 64, script: s)
        s.appendRaw(.client, .init(time: 250_000, bytes: Self.icmp(from: s.server, to: s.client, type: 3, code: 3, quoting: synBytes)))
        let finding = try #require(try Self.diagnose(s, [.client]).first { $0.name == "syn/rejected-by-icmp" })
        #expect(finding.evidence["icmp_from_server"] == true)
        #expect(finding.evidence["errno"] == "ECONNREFUSED")
    }

    @Test("Look-alike: SYNs dropped silently stay syn/unanswered, never rejected-by-icmp")
    func silentDrop() throws {
        var s = DiagnosisScript()
        for t: Int64 in [0, 1, 2] { s.emit(Self.syn(s), at: t * Self.second, seenBy: [.client]) }
        let findings = try Self.diagnose(s, windows: [.client: (0, 5 * Self.second), .server: (0, 5 * Self.second)])
        let finding = try #require(findings.first { $0.name == "syn/unanswered" })
        #expect(finding.evidence["reached_server_side"] == false)
        #expect(!findings.contains { $0.cause == "rejected-by-icmp" || $0.cause == "listen-queue-overflow" })
    }

    @Test("An ICMP error quoting another connection's segment is not this SYN's rejection")
    func unrelatedICMP() throws {
        var s = DiagnosisScript()
        for t: Int64 in [0, 1, 2] { s.emit(Self.syn(s), at: t * Self.second, seenBy: [.client]) }
        var other = s
        other.clientISN = 42
        let quoted = DiagnosisScript.ipv4(Self.syn(other), ipID: 1, ttl: 64, script: other)
        s.appendRaw(.client, .init(time: 100_000, bytes: Self.icmp(from: [198, 18, 0, 254], to: s.client, type: 3, code: 13, quoting: quoted)))
        let findings = try Self.diagnose(s, [.client])
        #expect(!findings.contains { $0.cause == "rejected-by-icmp" })
    }

    // MARK: F2 dead peer / path down vs a middlebox that forgot the connection

    /// A connection with three answered exchanges, then `idle` of silence, then one client segment
    /// retransmitted at 200, 600, 1400 and 3000 ms that only the client's capture sees.
    static func stalled(idle: Int64) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = DiagnosisSyntheticTests.exchanges(&s, count: 3, from: t)
        t += idle
        let seq = s.clientNext
        for offset: Int64 in [0, 200, 600, 1400, 3000] {
            s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 100, window: 502),
                   at: t + offset * Self.ms, seenBy: [.client])
        }
        s.clientNext = seq &+ 100
        return s
    }

    @Test("Silence mid-exchange, backoff doubling, nothing back: connection-lost/peer-or-path-down")
    func pathDown() throws {
        let s = Self.stalled(idle: 0)
        let findings = try Self.diagnose(s, windows: [.client: (0, 12 * Self.second), .server: (0, 12 * Self.second)])
        let finding = try #require(findings.first { $0.kind == "connection-lost" })
        #expect(finding.cause == "peer-or-path-down")
        #expect(finding.evidence["backoff_growing"] == true)
        #expect(finding.evidence["sender_gave_up"] == true)
        #expect(finding.evidence["reached_peer_side"] == false)
        #expect(finding.analyzerConfidence >= 0.8)
        #expect(!findings.contains { $0.kind == "retransmission" })
    }

    @Test("From the sender's vantage alone the silence stays ambiguous: no connection-lost finding")
    func pathDownOneVantage() throws {
        let findings = try Self.diagnose(Self.stalled(idle: 0), [.client], windows: [.client: (0, 12 * Self.second)])
        #expect(!findings.contains { $0.kind == "connection-lost" })
        #expect(findings.contains { $0.kind == "retransmission" })
    }

    @Test("The same after a 2 s idle gap: connection-lost/middlebox-state-expired")
    func middleboxForgot() throws {
        let s = Self.stalled(idle: 2 * Self.second)
        let findings = try Self.diagnose(s, windows: [.client: (0, 12 * Self.second), .server: (0, 12 * Self.second)])
        let finding = try #require(findings.first { $0.kind == "connection-lost" })
        #expect(finding.cause == "middlebox-state-expired")
        #expect((finding.evidence["idle_gap_ms"]?.doubleValue ?? 0) >= 1000)
        #expect(!findings.contains { $0.name == "retransmission/packet-loss" })
    }

    @Test("Look-alike: a lost segment retransmitted and acknowledged is no lost connection")
    func randomLoss() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = DiagnosisSyntheticTests.exchanges(&s, count: 3, from: t)
        let seq = s.clientNext
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 100, window: 502), at: t, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 100, window: 502), at: t + 200 * Self.ms)
        s.clientNext = seq &+ 100
        s.serverAck(s.clientNext, at: t + 200 * Self.ms + 2 * s.oneWay)
        let findings = try Self.diagnose(s)
        #expect(!findings.contains { $0.kind == "connection-lost" })
    }

    // MARK: F3 listen queue overflow

    @Test("SYNs reach the server and are ignored while another handshake completes: syn/listen-queue-overflow")
    func listenOverflow() throws {
        var accepted = DiagnosisScript()
        _ = accepted.handshake(at: 0)
        var late = DiagnosisScript()
        late.clientPort = 40001
        for t: Int64 in [0, 1, 2] { late.emit(Self.syn(late), at: 50 * Self.ms + t * Self.second) }
        let answer = 50 * Self.ms + 2 * Self.second + late.oneWay + 10_000
        late.emit(Segment(fromClient: false, seq: late.serverISN, ack: late.clientISN &+ 1, flags: 0x012, window: 65160,
                          options: DiagnosisScript.synOptions(scale: 7)), at: answer)
        late.emit(Segment(fromClient: true, seq: late.clientISN &+ 1, ack: late.serverISN &+ 1, flags: 0x010, window: 502),
                  at: answer + 2 * late.oneWay)
        accepted.merge(late)
        let findings = try Self.diagnose(accepted)
        let finding = try #require(findings.first { $0.name == "syn/listen-queue-overflow" })
        #expect(finding.vantage == ["server"])
        #expect(finding.evidence["ignored_syns"] == 2)
        #expect(finding.evidence["other_connections_accepted"] == 1)
    }

    @Test("Look-alike: a host that answers nothing at all is no listen-queue overflow")
    func hostSilent() throws {
        var s = DiagnosisScript()
        for t: Int64 in [0, 1, 2] { s.emit(Self.syn(s), at: t * Self.second) }
        let findings = try Self.diagnose(s, windows: [.client: (0, 6 * Self.second), .server: (0, 6 * Self.second)])
        #expect(!findings.contains { $0.cause == "listen-queue-overflow" })
        #expect(findings.contains { $0.name == "syn/unanswered" })
    }

    // MARK: F4 Nagle meets delayed ACK vs a slow server

    /// Requests of `first` + `rest` bytes (the rest sent when the server's delayed ACK of the first
    /// arrives, 40 ms later), each answered at once; or, with `rest` 0, whole requests answered
    /// after `think`.
    static func exchanges(first: UInt32, rest: UInt32, think: Int64 = 0, count: Int = 5,
                          narrowWindow: Bool = false) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0) + Self.ms
        for _ in 0..<count {
            if narrowWindow { s.serverAck(s.clientNext, at: t - 2 * s.oneWay, window: 1) }
            s.clientData(first, at: t)
            var answerAt = t + s.oneWay + think
            if rest > 0 {
                let ackAt = t + s.oneWay + 40 * Self.ms
                s.serverAck(s.clientNext, at: ackAt)
                s.clientData(rest, at: ackAt + s.oneWay + 20_000)
                answerAt = ackAt + 2 * s.oneWay + 60_000
            }
            s.serverData(100, at: answerAt)
            t = answerAt + s.oneWay + 200_000
        }
        return s
    }

    @Test("A small segment, a 40 ms delayed ACK of exactly it, then the rest at once: stall/nagle-delayed-ack naming the held segment and the ACK")
    func nagleDelayedAck() throws {
        let findings = try Self.diagnose(Self.exchanges(first: 20, rest: 180))
        let finding = try #require(findings.first { $0.name == "stall/nagle-delayed-ack" })
        #expect(finding.evidence["stalls"] == 5)
        #expect(finding.evidence["first_segment_bytes"] == 20)
        #expect(finding.evidence["held_segment_bytes"] == 180)
        // Client vantage: SYN, SYN/ACK, ACK, then the first segment (4), the delayed ACK (5), the held one (6).
        #expect(finding.vantage.first == "client")
        #expect(finding.evidence["first_segment_frame"] == 4)
        #expect(finding.evidence["waited_for_ack_frame"] == 5)
        #expect(finding.evidence["held_segment_frame"] == 6)
        #expect(finding.decisiveFrame == 6)
        #expect((finding.evidence["median_stall_ms"]?.doubleValue ?? 0) >= 40)
        #expect(finding.vantage.contains("server"))
        #expect(finding.analyzerConfidence >= 0.8)
        #expect(!findings.contains { $0.cause == "server-think-time" })
    }

    @Test("Look-alike: whole requests answered 40 ms late are a slow server, never Nagle")
    func slowServer() throws {
        let findings = try Self.diagnose(Self.exchanges(first: 200, rest: 0, think: 40 * Self.ms))
        let finding = try #require(findings.first { $0.name == "stall/server-think-time" })
        #expect(finding.evidence["slow_exchanges"] == 5)
        #expect((finding.evidence["median_think_ms"]?.doubleValue ?? 0) >= 40)
        #expect(!findings.contains { $0.cause == "nagle-delayed-ack" })
    }

    @Test("Look-alike: a second segment that waited for the receiver's window to open is no Nagle stall")
    func windowHeldSegment() throws {
        let findings = try Self.diagnose(Self.exchanges(first: 20, rest: 180, narrowWindow: true))
        #expect(!findings.contains { $0.cause == "nagle-delayed-ack" })
    }

    @Test("Prompt exchanges are no stall at all")
    func promptExchanges() throws {
        let findings = try Self.diagnose(Self.exchanges(first: 200, rest: 0))
        #expect(!findings.contains { $0.kind == "stall" })
    }

    // MARK: F5 bufferbloat

    /// A client transfer of 80 segments, one a millisecond, whose ACKs come later and later (the
    /// round trip growing 6 ms a segment, to ~480 ms), seen at the client; with `resend`, segment 40
    /// is sent again (a loss); with `victim`, a second connection's request waits 300 ms mid-way.
    static func bloated(resend: Bool = false, victim: Bool = false) -> DiagnosisScript {
        var s = DiagnosisScript()
        let start = s.handshake(at: 0, seenBy: [.client]) + Self.ms
        var events: [(time: Int64, data: Bool, seq: UInt32, ack: UInt32)] = []
        let base = s.clientNext
        for i in 0..<80 {
            let sent = start + Int64(i) * Self.ms
            let seq = base &+ UInt32(i * 1448)
            events.append((sent, true, seq, 0))
            events.append((sent + 200_000 + Int64(i) * 6 * Self.ms, false, 0, seq &+ 1448))
            if resend && i == 40 { events.append((sent + 300_000, true, base &+ UInt32(39 * 1448), 0)) }
        }
        for e in events.sorted(by: { $0.time < $1.time }) {
            if e.data {
                s.emit(Segment(fromClient: true, seq: e.seq, ack: s.serverNext, flags: 0x010, length: 1448, window: 502),
                       at: e.time, seenBy: [.client])
            } else {
                s.emit(Segment(fromClient: false, seq: s.serverNext, ack: e.ack, flags: 0x010, window: 4000), at: e.time, seenBy: [.client])
            }
        }
        s.clientNext = base &+ UInt32(80 * 1448)
        guard victim else { return s }
        var other = DiagnosisScript()
        other.clientPort = 40001
        other.serverPort = s.serverPort + 1
        let t = other.handshake(at: 100_000, seenBy: [.client]) + 100 * Self.ms
        other.clientData(100, at: t, seenBy: [.client])
        other.serverData(100, at: t + 300 * Self.ms, seenBy: [.client])
        s.merge(other)
        return s
    }

    @Test("RTT climbing from 0.2 ms to ~480 ms with nothing lost, another connection waiting: latency/bufferbloat")
    func bufferbloat() throws {
        let findings = try Self.diagnose(Self.bloated(victim: true), [.client])
        let finding = try #require(findings.first { $0.name == "latency/bufferbloat" })
        #expect((finding.evidence["p90_rtt_ms"]?.doubleValue ?? 0) >= 400)
        #expect((finding.evidence["base_rtt_ms"]?.doubleValue ?? 1) < 1)
        #expect(finding.evidence["retransmissions"] == 0)
        #expect(finding.evidence["other_connections_delayed"] == 1)
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(!findings.contains { $0.kind == "stall" })
    }

    @Test("Look-alike: the same climb with a retransmission is no bufferbloat (the queue overflowed)")
    func bloatWithLoss() throws {
        let findings = try Self.diagnose(Self.bloated(resend: true), [.client])
        #expect(!findings.contains { $0.kind == "latency" })
    }

    // MARK: F6 window scaling stripped: throughput capped by the receive window

    /// A 20 ms path; the client's SYN carries window scale 7 at the client and (with `stripped`)
    /// arrives without it; the server's SYN/ACK then carries none. 25 rounds of 44 full segments,
    /// each round acknowledged at once with `window` (65 535 unscaled, or scaled when not stripped).
    static func windowLimited(stripped: Bool, window: UInt16 = 65535) -> DiagnosisScript {
        var s = DiagnosisScript()
        s.oneWay = 10 * Self.ms
        let mss: [UInt8] = [2, 4, 0x05, 0xB4, 4, 2]
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240, options: mss + [1, 3, 3, 7]),
               at: 0, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240, options: mss + (stripped ? [1, 1, 1, 1] : [1, 3, 3, 7])),
               at: 0, seenBy: [.server])
        s.emit(Segment(fromClient: false, seq: s.serverISN, ack: s.clientISN &+ 1, flags: 0x012, window: 65535,
                       options: stripped ? mss + [1, 1] : mss + [1, 3, 3, 7]), at: s.oneWay + 10_000)
        var t = 2 * s.oneWay + 20_000
        s.emit(Segment(fromClient: true, seq: s.clientISN &+ 1, ack: s.serverISN &+ 1, flags: 0x010, window: 502), at: t)
        t += 10_000
        for _ in 0..<25 {
            for i in 0..<44 { s.clientData(1448, at: t + Int64(i) * 10_000) }
            s.serverAck(s.clientNext, at: t + s.oneWay + 450_000, window: window)
            t += 2 * s.oneWay + 460_000
        }
        return s
    }

    @Test("Bytes in flight pinned at a 64 KiB window on a 20 ms path, the SYN's window scale gone at the server: throughput/receive-window-limited, stripped on the path")
    func windowScaleStripped() throws {
        let findings = try Self.diagnose(Self.windowLimited(stripped: true))
        let finding = try #require(findings.first { $0.name == "throughput/receive-window-limited" })
        #expect(finding.evidence["window_scale_stripped"] == true)
        #expect(finding.evidence["window_scaling"] == "stripped-on-path")
        #expect(finding.evidence["window_scale_sent"] == 7)
        #expect(finding.evidence["sent_at"] == "client")
        #expect(finding.evidence["received_at"] == "server")
        #expect(finding.evidence["advertised_window_max"] == 65535)
        #expect((finding.evidence["window_ceiling_mbit"]?.doubleValue ?? 0) < 30)
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(!findings.contains { $0.kind == "zero-window" || $0.kind == "retransmission" })
    }

    @Test("Look-alike: the same transfer with window scaling and a wide window is not receive-window-limited")
    func windowScaled() throws {
        let findings = try Self.diagnose(Self.windowLimited(stripped: false, window: 4000))
        #expect(!findings.contains { $0.kind == "throughput" })
    }

    // MARK: F7 path-MTU black hole vs random loss

    /// After the handshake: a 500-byte request that arrives, then a 1448-byte segment whose copies
    /// (at 0, 60, 180, 420 ms) reach only the client's capture, then the same data in 1024 + 424
    /// bytes that arrive and are acknowledged. With `lossy`, the third copy of the full-size one arrives.
    static func blackHole(lossy: Bool = false) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0) + Self.ms
        s.clientData(500, at: t)
        s.serverAck(s.clientNext, at: t + s.oneWay + 10_000)
        t += Self.ms
        let seq = s.clientNext
        for (i, offset) in [Int64(0), 60, 180, 420].enumerated() {
            let seen: Set<DiagnosisScript.Vantage> = lossy && i == 2 ? [.client, .server] : [.client]
            s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 1448, window: 502),
                   at: t + offset * Self.ms, seenBy: seen)
        }
        t += 900 * Self.ms
        if lossy {
            s.clientNext = seq &+ 1448
            s.serverAck(s.clientNext, at: t)
            return s
        }
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x010, length: 1024, window: 502), at: t)
        s.emit(Segment(fromClient: true, seq: seq &+ 1024, ack: s.serverNext, flags: 0x018, length: 424, window: 502), at: t + 10_000)
        s.clientNext = seq &+ 1448
        s.serverAck(s.clientNext, at: t + s.oneWay + 20_000)
        return s
    }

    @Test("Full-size copies that never reach the server while smaller segments do, no ICMP: retransmission/path-mtu-black-hole")
    func mtuBlackHole() throws {
        let findings = try Self.diagnose(Self.blackHole())
        let finding = try #require(findings.first { $0.name == "retransmission/path-mtu-black-hole" })
        #expect(finding.evidence["largest_sent"] == 1448)
        #expect(finding.evidence["largest_arrived"] == 1024)
        #expect(finding.evidence["head_copies"] == 4)
        #expect(finding.evidence["backoff_growing"] == true)
        #expect(finding.evidence["sender_shrank"] == true)
        #expect(finding.evidence["shrunk_to"] == 1024)
        #expect(!findings.contains { $0.name == "retransmission/packet-loss" })
    }

    @Test("Look-alike: a full-size copy that gets through is loss, not a black hole")
    func mtuRandomLoss() throws {
        let findings = try Self.diagnose(Self.blackHole(lossy: true))
        #expect(!findings.contains { $0.cause == "path-mtu-black-hole" })
    }
}
