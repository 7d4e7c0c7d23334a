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
        #expect(finding.confidence >= 0.8)
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
}
