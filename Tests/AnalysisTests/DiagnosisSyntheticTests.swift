@testable import Analysis
import Testing

/// Diagnoses of flows built packet by packet (DiagnosisPacketBuilder.swift), seen from the
/// client's and the server's side of a `client — router — server` line: one hop between the
/// vantages, so a host's packets arrive with TTL 64 at its own vantage and 63 at the other.
@Suite("Diagnosis on synthetic flows")
struct DiagnosisSyntheticTests {
    typealias Segment = DiagnosisScript.Segment

    /// Writes the captures, diagnoses them, and removes the files again.
    static func diagnose(_ script: DiagnosisScript, _ vantages: [DiagnosisScript.Vantage] = [.client, .server],
                         windows: [DiagnosisScript.Vantage: (start: Int64, end: Int64)] = [:]) throws
        -> DiagnosisResult {
        let captures = try script.write(vantages, windows: windows)
        defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
        return try Diagnoser.diagnose(captures)
    }

    /// Request/response exchanges, each acknowledged promptly. Returns the time after them.
    static func exchanges(_ s: inout DiagnosisScript, count: Int, from start: Int64) -> Int64 {
        var t = start
        for _ in 0..<count {
            s.clientData(100, at: t)
            s.serverData(1000, at: t + s.oneWay + 50_000)
            s.clientAck(s.serverNext, at: t + 2 * s.oneWay + 60_000)
            t += 1_000_000
        }
        return t
    }

    // MARK: RST

    @Test("RST at the client, absent at the server, TTL 64 vs baseline 63: injected-by-middlebox, high")
    func injectedMidStream() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 3, from: t)
        // The firewall rule appears: the request never reaches the server; the router resets it.
        s.clientData(100, at: t, seenBy: [.client])
        s.inject(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0), at: t + s.oneWay,
                 into: .client, ttl: 64, ipID: 0)
        // The server capture's packets end before the RST: only its recorded window (as Faultline
        // writes it) says it was still listening.
        let result = try Self.diagnose(s, windows: [.server: (start: 0, end: t + 1_000_000_000)])
        let findings = result.findings.named("rst/injected-by-middlebox")
        #expect(findings.count == 1, "\(result.findings.names)")
        let finding = try #require(findings.first)
        #expect(finding.vantage == ["client", "server"])
        #expect(finding.confidenceLevel == "high")
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(finding.evidence["rst_ttl"] == .int(64))
        #expect(finding.evidence["sender_baseline_ttl"] == .int(63))
        #expect(finding.evidence["ttl_difference"] == .int(1))
        #expect(finding.evidence["absent_at_sender_side"] == .string("server"))
        #expect(finding.decisiveFrame == finding.frames["client"]?.decisive)
        #expect(result.findings.filter { $0.kind == "rst" }.count == 1)
    }

    @Test("same injected RST from the client's capture alone: injected by TTL, says what is missing")
    func injectedSingleVantage() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 3, from: t)
        s.clientData(100, at: t, seenBy: [.client])
        s.inject(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0), at: t + s.oneWay,
                 into: .client, ttl: 64, ipID: 0)
        let result = try Self.diagnose(s, [.client])
        let finding = try #require(result.findings.named("rst/injected-by-middlebox").first, "\(result.findings.names)")
        #expect(finding.vantage == ["client"])
        #expect(finding.analyzerConfidence >= 0.8)
        #expect(finding.evidence["missing"] != nil)
    }

    @Test("RST/ACK to the SYN seen leaving the server: refused-by-host, high")
    func refusedTwoVantages() throws {
        var s = DiagnosisScript()
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 0)
        s.emit(Segment(fromClient: false, seq: 0, ack: s.clientISN &+ 1, flags: 0x014, window: 0, ipID: 0),
               at: s.oneWay + 20_000)
        let result = try Self.diagnose(s)
        #expect(result.findings.names == ["rst/refused-by-host"])
        let finding = try #require(result.findings.first)
        #expect(finding.vantage == ["client", "server"])
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(finding.evidence["seen_leaving_sender_at"] == .string("server"))
        #expect(finding.frames["client"]?.decisive == 2)
        #expect(finding.frames["server"]?.decisive == 2)
    }

    @Test("SYN rejected by the router: RST/ACK with TTL 64, the server never saw the SYN: injected")
    func rejectedSYN() throws {
        var other = DiagnosisScript()
        other.clientPort = 40001
        var t = other.handshake(at: 0)
        t = Self.exchanges(&other, count: 4, from: t)
        var s = DiagnosisScript()
        s.clientPort = 40002
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 1_500_000, seenBy: [.client])
        s.inject(Segment(fromClient: false, seq: 0, ack: s.clientISN &+ 1, flags: 0x014, window: 0),
                 at: 1_500_000 + s.oneWay, into: .client, ttl: 64, ipID: 0)
        s.merge(other)
        let result = try Self.diagnose(s)
        let finding = try #require(result.findings.named("rst/injected-by-middlebox").first, "\(result.findings.names)")
        #expect(finding.flow?.client == "198.18.0.1:40002")
        #expect(finding.evidence["sender_side_saw_flow"] == .bool(false))
        #expect(finding.evidence["sender_baseline_ttl"] == .int(63))
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(result.findings.named("rst/refused-by-host").isEmpty)
    }

    @Test("abort with RSTs for the segments in flight: one aborted-by-application finding")
    func abortWithConsequences() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 3, from: t)
        // SO_LINGER 0 close: RST/ACK at the server's next sequence number, IP ID continuing.
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x014, window: 0), at: t)
        // Two requests already on their way each draw a bare RST from the now socket-less host.
        s.clientData(100, at: t + 50_000)
        s.clientData(100, at: t + 60_000)
        s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0, ipID: 0), at: t + 50_000 + s.oneWay + 5_000)
        s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0, ipID: 0), at: t + 60_000 + s.oneWay + 5_000)
        let result = try Self.diagnose(s)
        let rsts = result.findings.filter { $0.kind == "rst" }
        #expect(rsts.names == ["rst/aborted-by-application"])
        let finding = try #require(rsts.first)
        #expect(finding.evidence["later_rsts"] == .int(2))
        #expect(finding.evidence["ip_id_continues_sender_sequence"] == .bool(true))
        #expect(finding.vantage.sorted() == ["client", "server"])
    }

    @Test("bare RST at the ACK number of the client's segment, host TTL: peer-has-no-connection")
    func peerLostState() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 3, from: t) + 2_000_000_000
        s.clientData(100, at: t)
        s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0, ipID: 0), at: t + s.oneWay + 20_000)
        let result = try Self.diagnose(s)
        let finding = try #require(result.findings.named("rst/peer-has-no-connection").first, "\(result.findings.names)")
        #expect(finding.evidence["sender_baseline_ttl"] == .int(63))
        #expect(finding.evidence["seen_leaving_sender_at"] == .string("server"))
        #expect(finding.analyzerConfidence >= 0.8)
    }

    // MARK: SYN

    @Test("late duplicate SYN answered within 29 µs by a pure ACK: challenge ACK")
    func challengeAck() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 2, from: t)
        // The impairment engine's delayed copy of the SYN reaches the server only.
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7), ipID: 0x1000), at: t, seenBy: [.server])
        s.serverAck(s.clientNext, at: t + s.oneWay + 29_000)
        let result = try Self.diagnose(s)
        let finding = try #require(result.findings.named("syn/duplicate-answered-with-challenge-ack").first,
                                   "\(result.findings.names)")
        #expect(finding.vantage == ["server"])
        #expect(finding.evidence["answer_delay_ms"] == .double(0.029))
        #expect(finding.evidence["connection_survived"] == .bool(true))
        #expect(result.findings.filter { $0.kind == "rst" }.isEmpty)
    }

    @Test("late duplicate SYN 0.2 ms after the handshake (same IP ID and TTL): still a challenge ACK, not a copy")
    func challengeAckRightAfterHandshake() throws {
        var s = DiagnosisScript()
        let t = s.handshake(at: 0)
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7), ipID: 0x1000), at: t, seenBy: [.server])
        s.serverAck(s.clientNext, at: t + s.oneWay + 29_000)
        let result = try Self.diagnose(s, [.server])
        #expect(result.findings.names == ["syn/duplicate-answered-with-challenge-ack"])
    }

    // MARK: retransmissions

    /// Six segments acknowledged one RTT later, then a flight of five whose second (and third,
    /// with `burst`) is lost at the router; SACK duplicate ACKs; the client resends.
    static func lossFlow(inflate: Bool, burst: Bool, vantages: [DiagnosisScript.Vantage]) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        for i in 0..<10 {
            let queueing: Int64 = inflate ? Int64(i) * 1_000_000 : 0
            let (seq, _) = s.clientData(1000, at: t)
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000 + queueing)
            t += 20_000_000
        }
        let queueing: Int64 = inflate ? 10_000_000 : 0
        var flight: [(seq: UInt32, ipID: UInt16)] = []
        for i in 0..<5 {
            let lost = i == 1 || (burst && i == 2)
            flight.append(s.clientData(1000, at: t + Int64(i) * 10_000, seenBy: lost ? [.client] : [.client, .server]))
        }
        let firstLost = flight[1].seq
        let firstSACKed = flight[burst ? 3 : 2].seq
        let arrive = t + s.oneWay + queueing
        s.serverAck(firstLost, at: arrive + 1_000)
        var dupTime = arrive + 21_000
        for index in (burst ? 3 : 2)..<5 {
            s.serverAck(firstLost, at: dupTime, sack: [(firstSACKed, flight[index].seq &+ 1000)])
            dupTime += 10_000
        }
        var resend = dupTime + s.oneWay + 5_000
        for index in 1...(burst ? 2 : 1) {
            s.emit(Segment(fromClient: true, seq: flight[index].seq, ack: s.serverNext, flags: 0x018, length: 1000,
                           window: 502), at: resend)
            resend += 10_000
        }
        s.serverAck(s.clientNext, at: resend + s.oneWay)
        return s
    }

    @Test("data lost between the vantages: packet-loss, lost between client and server captures")
    func lossBetweenVantages() throws {
        let result = try Self.diagnose(Self.lossFlow(inflate: false, burst: false, vantages: [.client, .server]),
                                       windows: [.server: (start: 0, end: 1_000_000_000)])
        let findings = result.findings.named("retransmission/packet-loss")
        #expect(findings.count == 1, "\(result.findings.names)")
        let finding = try #require(findings.first)
        #expect(finding.vantage == ["client", "server"])
        #expect(finding.evidence["lost_between_vantages"] == .string("client → server"))
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(finding.evidence["rtt_inflation"].flatMap(\.doubleValue).map { $0 < 1.5 } == true)
        #expect(result.findings.filter { $0.kind == "retransmission" }.count == 1)
    }

    @Test("RTT rising tenfold before a burst of losses: congestion-loss; flat RTT: packet-loss")
    func congestionVersusRandomLoss() throws {
        let congested = try Self.diagnose(Self.lossFlow(inflate: true, burst: true, vantages: [.client]), [.client])
        let congestion = try #require(congested.findings.named("retransmission/congestion-loss").first,
                                      "\(congested.findings.names)")
        #expect(congestion.evidence["largest_burst"] == .int(2))
        #expect((congestion.evidence["rtt_inflation"]?.doubleValue ?? 0) >= 3)
        #expect(congested.findings.named("retransmission/packet-loss").isEmpty)

        let random = try Self.diagnose(Self.lossFlow(inflate: false, burst: true, vantages: [.client]), [.client])
        #expect(random.findings.named("retransmission/packet-loss").count == 1, "\(random.findings.names)")
        #expect(random.findings.named("retransmission/congestion-loss").isEmpty)
    }

    /// Requests `spacing` apart whose ACK the server delays 40 ms, then one the client's RTO
    /// resends after `resendAfter`; the duplicate makes the server answer at once with a D-SACK.
    /// `oneWay`: the path's one-way delay; `handshakeOneWay`: a handshake slower than the path
    /// (a busy host); in ns, the script's default when nil.
    static func delayedAckFlow(spacing: Int64 = 50_000_000, resendAfter: Int64 = 14_000_000,
                               oneWay: Int64? = nil, handshakeOneWay: Int64? = nil) -> DiagnosisScript {
        var s = DiagnosisScript()
        let pathOneWay = oneWay ?? s.oneWay
        s.oneWay = handshakeOneWay ?? pathOneWay
        var t = s.handshake(at: 0)
        s.oneWay = pathOneWay
        for _ in 0..<4 {
            let (seq, _) = s.clientData(100, at: t)
            s.serverAck(seq &+ 100, at: t + s.oneWay + 40_000_000)
            t += spacing
        }
        let (seq, _) = s.clientData(100, at: t)
        let resend = t + resendAfter
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 100, window: 502), at: resend)
        s.serverAck(seq &+ 100, at: resend + s.oneWay + 20_000, sack: [(seq, seq &+ 100)])
        return s
    }

    @Test("retransmission ~RTO after the original, D-SACK at once: spurious-delayed-ack (sender side)")
    func delayedAckSenderSide() throws {
        let result = try Self.diagnose(Self.delayedAckFlow(), [.client])
        let finding = try #require(result.findings.named("retransmission/spurious-delayed-ack").first,
                                   "\(result.findings.names)")
        #expect(finding.evidence["retransmitted_after_ms"] == .double(14))
        #expect(finding.evidence["vantage_position"] == .string("sender side"))
        #expect((finding.evidence["typical_ack_delay_ms"]?.doubleValue ?? 0) > 40)
        #expect(result.findings.filter { $0.kind == "retransmission" }.count == 1)
    }

    @Test("the same seen at the receiver: original arrived, ACK held, D-SACK at once: spurious-delayed-ack")
    func delayedAckReceiverSide() throws {
        let result = try Self.diagnose(Self.delayedAckFlow(), [.server])
        let finding = try #require(result.findings.named("retransmission/spurious-delayed-ack").first,
                                   "\(result.findings.names)")
        #expect(finding.evidence["vantage_position"] == .string("receiver side"))
        #expect(finding.evidence["dsack_after_retransmission_ms"] == .double(0.02))
    }

    @Test("a busy host's 8 ms handshake, requests resent after 23 ms, each D-SACK 2 ms after the copy: spurious-delayed-ack, said with the copy's round trip")
    func delayedAckSlowHandshake() throws {
        let s = Self.delayedAckFlow(spacing: 60_000_000, resendAfter: 23_000_000, oneWay: 1_000_000, handshakeOneWay: 4_000_000)
        let result = try Self.diagnose(s, [.client])
        let finding = try #require(result.findings.named("retransmission/spurious-delayed-ack").first,
                                   "\(result.findings.names) \(result.findings.map(\.sentence))")
        #expect((finding.evidence["path_rtt_ms"]?.doubleValue ?? 0) > 8, "the handshake's RTT stays the path RTT reported")
        #expect(finding.sentence.contains("a round trip of the path, which took 2.02 ms"), "\(finding.sentence)")
        #expect(!finding.sentence.contains("ms path RTT"), "\(finding.sentence)")
    }

    @Test("path delay jumps 0.2 ms → 400 ms: timeout resend, late ACK without D-SACK: rtt-exceeds-rto")
    func rttJump() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        for _ in 0..<8 {
            let (seq, _) = s.clientData(1000, at: t)
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000)
            t += 1_000_000
        }
        s.oneWay = 200_000_000
        let (seq, _) = s.clientData(1000, at: t)
        let resend = t + 5_000_000
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 1000, window: 502), at: resend)
        s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000)
        s.serverAck(seq &+ 1000, at: resend + s.oneWay + 10_000, sack: [(seq, seq &+ 1000)])
        t += 2 * s.oneWay + 50_000_000
        for _ in 0..<4 {
            let (next, _) = s.clientData(1000, at: t)
            s.serverAck(next &+ 1000, at: t + s.oneWay + 10_000)
            t += 1_000_000
        }
        let result = try Self.diagnose(s, [.client])
        let finding = try #require(result.findings.named("retransmission/rtt-exceeds-rto").first,
                                   "\(result.findings.names)")
        #expect((finding.evidence["rtt_of_original_ms"]?.doubleValue ?? 0) > 399)
        #expect((finding.evidence["srtt_before_ms"]?.doubleValue ?? 1) < 1)
        #expect((finding.evidence["rtt_after_ms"]?.doubleValue ?? 0) > 399)
        #expect(finding.confidenceLevel == "high")
    }

    @Test("timeout resend, no SACK, ACK one RTT later: retransmission/undetermined naming what is missing")
    func undeterminedWithoutSACK() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, sack: false)
        for _ in 0..<4 {
            let (seq, _) = s.clientData(1000, at: t)
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000)
            t += 1_000_000
        }
        let (seq, _) = s.clientData(1000, at: t)
        let resend = t + 300_000_000
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 1000, window: 502), at: resend)
        s.serverAck(seq &+ 1000, at: resend + s.oneWay + 10_000)
        let result = try Self.diagnose(s, [.client])
        let finding = try #require(result.findings.named("retransmission/undetermined").first, "\(result.findings.names)")
        let missing = finding.evidence["missing"]?.description ?? ""
        #expect(missing.contains("D-SACK (SACK was not negotiated)"))
        #expect(finding.confidenceLevel == "low")
    }

    // MARK: zero window

    @Test("window falls to zero and stays, persist probes at growing intervals: receiver-stopped-reading")
    func receiverStopped() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        for window: UInt16 in [300, 200, 100, 0] {
            let (seq, _) = s.clientData(12_800, at: t)
            s.serverAck(seq &+ 12_800, at: t + s.oneWay + 10_000, window: window)
            t += 1_000_000
        }
        var interval: Int64 = 200_000_000
        for _ in 0..<5 {
            t += interval
            s.emit(Segment(fromClient: true, seq: s.clientNext &- 1, ack: s.serverNext, flags: 0x010, window: 502), at: t)
            s.serverAck(s.clientNext, at: t + s.oneWay + 20_000, window: 0)
            interval *= 2
        }
        let result = try Self.diagnose(s, [.client])
        let finding = try #require(result.findings.named("zero-window/receiver-stopped-reading").first,
                                   "\(result.findings.names)")
        #expect(finding.evidence["probes"] == .int(5))
        #expect(finding.evidence["still_zero_at_end"] == .bool(true))
        #expect(finding.evidence["receiver"] == .string("198.19.0.2:8080"))
        #expect(result.findings.named("keep-alive/benign").isEmpty, "persist probes are not benign keep-alives")
    }

    @Test("window hits zero and reopens after each read, three times: receiver-slow")
    func receiverSlow() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        for _ in 0..<3 {
            for window: UInt16 in [200, 100, 0] {
                let (seq, _) = s.clientData(12_800, at: t)
                s.serverAck(seq &+ 12_800, at: t + s.oneWay + 10_000, window: window)
                t += 1_000_000
            }
            // The application reads: window update 5 ms later.
            s.serverAck(s.clientNext, at: t + 5_000_000, window: 300)
            t += 6_000_000
        }
        let result = try Self.diagnose(s, [.server])
        let finding = try #require(result.findings.named("zero-window/receiver-slow").first, "\(result.findings.names)")
        #expect(finding.evidence["stalls"] == .int(3))
        #expect(finding.evidence["reopened"] == .int(3))
        #expect(finding.confidenceLevel == "high")
    }

    @Test("a zero window that lasts 25 µs (receiver briefly not scheduled) is not a finding")
    func momentaryZeroWindow() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        for _ in 0..<2 {
            let (seq, _) = s.clientData(12_800, at: t)
            s.serverAck(seq &+ 12_800, at: t + s.oneWay + 10_000, window: 0)
            s.serverAck(seq &+ 12_800, at: t + s.oneWay + 35_000, window: 300)
            t += 1_000_000
        }
        let result = try Self.diagnose(s, [.server])
        #expect(result.findings.filter { $0.kind == "zero-window" }.isEmpty, "\(result.findings.names)")
    }

    // MARK: capture artifacts, output

    @Test("every packet captured twice, TTL one lower in the copy: capture artifact, no loss")
    func duplicatedCapture() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 4, from: t)
        // A capture taken on both router interfaces: each client-side packet also appears as seen
        // behind the router (TTL one lower, same IP ID), 30 µs later.
        var doubled = s
        doubled.oneWay = 30_000
        let copies = s.captures[.client] ?? []
        for packet in copies {
            var bytes = packet.bytes
            bytes[8] &-= 1
            doubled.appendRaw(.client, DiagnosisScript.Packet(time: packet.time + 30_000, bytes: bytes))
        }
        let result = try Self.diagnose(doubled, [.client])
        #expect(result.findings.names == ["capture-artifact/duplicated-capture"])
        #expect(result.findings.first?.evidence["ttl_differences"] == .list([1]))
    }

    @Test("JSON: kind and cause spelled as in failure-modes.md, sorted keys, decodable")
    func jsonOutput() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 3, from: t)
        s.clientData(100, at: t, seenBy: [.client])
        s.inject(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0), at: t + s.oneWay,
                 into: .client, ttl: 64, ipID: 0)
        let result = try Self.diagnose(s)
        let json = FindingsJSON.render(result)
        #expect(json.contains("\"kind\": \"rst\""))
        #expect(json.contains("\"cause\": \"injected-by-middlebox\""))
        #expect(json.contains("\"schema\": \"faultline.findings/1\""))
        let compact = FindingsJSON.render(result.findings, pretty: false)
        #expect(compact.hasPrefix("[{\"cause\":\"injected-by-middlebox\",\"confidence\":"))
        let decoded = try JSONDecoding.decodeFindings(compact)
        #expect(decoded.map(\.name) == result.findings.map(\.name))
        #expect(decoded.first?.frames == result.findings.first?.frames)
        #expect(decoded.first?.sentence == result.findings.first?.sentence)
        #expect(decoded.first?.evidence["rst_ttl"] == .int(64))
    }

    @Test("report: grouped by flow, most serious flow first")
    func reportOrder() throws {
        var keepAlive = DiagnosisScript()
        keepAlive.clientPort = 40100
        var t = keepAlive.handshake(at: 0)
        t = Self.exchanges(&keepAlive, count: 1, from: t)
        keepAlive.emit(Segment(fromClient: true, seq: keepAlive.clientNext &- 1, ack: keepAlive.serverNext, flags: 0x010,
                               window: 502), at: t + 15_000_000_000)
        keepAlive.clientAck(keepAlive.serverNext, at: t + 15_000_000_000 + 400_000)
        keepAlive.emit(Segment(fromClient: false, seq: keepAlive.serverNext, ack: keepAlive.clientNext, flags: 0x010,
                               window: 509), at: t + 15_000_000_000 + 100_000)
        var s = DiagnosisScript()
        s.clientPort = 40200
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 1_000_000_000)
        s.emit(Segment(fromClient: false, seq: 0, ack: s.clientISN &+ 1, flags: 0x014, window: 0, ipID: 0),
               at: 1_000_000_000 + s.oneWay + 20_000)
        s.merge(keepAlive)
        let result = try Self.diagnose(s, [.client])
        #expect(result.findings.first?.name == "rst/refused-by-host", "\(result.findings.names)")
        #expect(result.findings.last?.name == "keep-alive/benign", "\(result.findings.names)")
        let text = DiagnosisReport.text(result)
        let rst = try #require(text.range(of: "Flow 198.18.0.1:40200"))
        let benign = try #require(text.range(of: "Flow 198.18.0.1:40100"))
        #expect(rst.lowerBound < benign.lowerBound)
        #expect(text.contains("[critical] rst/refused-by-host"))
    }

    @Test("--annotate: a pcapng copy with a comment on the decisive frame, frames unchanged")
    func annotate() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0)
        t = Self.exchanges(&s, count: 3, from: t)
        s.clientData(100, at: t, seenBy: [.client])
        s.inject(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0), at: t + s.oneWay,
                 into: .client, ttl: 64, ipID: 0)
        let captures = try s.write()
        let directory = TemporaryDirectory.directory(of: captures[0].path)
        defer { TemporaryDirectory.remove(directory) }
        let result = try Diagnoser.diagnose(captures)
        let finding = try #require(result.findings.named("rst/injected-by-middlebox").first)
        let output = directory + "/client-annotated.pcapng"
        let annotated = try PcapngAnnotator.annotate(result, vantage: "client", output: output)
        #expect(annotated >= 1)
        let reader = try CaptureReader(path: output)
        #expect(reader.format == .pcapng)
        var frames: UInt64 = 0
        var comment: String?
        var timestamps: [Int64] = []
        while let packet = try reader.next() {
            frames += 1
            timestamps.append(packet.timestamp)
            if packet.frameNumber == finding.decisiveFrame { comment = packet.comment }
        }
        #expect(frames == result.vantages[0].frames)
        #expect(comment?.contains("faultline: rst/injected-by-middlebox (high): decisive frame") == true)
        let original = try CaptureReader(path: result.vantages[0].path)
        var originalTimes: [Int64] = []
        while let packet = try original.next() { originalTimes.append(packet.timestamp) }
        #expect(timestamps == originalTimes)
    }

    @Test("vocabulary: the kind/cause strings are exactly those of failure-modes.md")
    func vocabulary() {
        let required = [
            "zero-window/receiver-slow", "zero-window/receiver-stopped-reading", "rst/refused-by-host",
            "rst/injected-by-middlebox", "rst/aborted-by-application", "rst/peer-has-no-connection",
            "syn/duplicate-answered-with-challenge-ack", "syn/unanswered", "retransmission/packet-loss",
            "retransmission/spurious-delayed-ack", "retransmission/rtt-exceeds-rto", "retransmission/congestion-loss",
            "capture-artifact/duplicated-capture", "reordering/path-reordering", "keep-alive/benign",
        ]
        for name in required { #expect(DiagnosisName.all.contains(name), "\(name)") }
        for name in DiagnosisName.all {
            let parts = name.split(separator: "/")
            #expect(parts.count == 2 && parts.allSatisfy { $0.allSatisfy { $0.isLowercase || $0 == "-" } }, "\(name)")
        }
    }

    @Test("vantage names come from file names; roles only from what is stated")
    func vantageNames() {
        #expect(VantageCapture(path: "/tmp/run1/client.pcapng").name == "client")
        #expect(VantageCapture(path: "server.pcap").name == "server")
        #expect(VantageCapture(path: "/x/zeek-pr33__fast001.trace").name == "zeek-pr33__fast001")
        #expect(VantageCapture(path: "-").name == "stdin")
        // A name, however it reads, is not a role.
        #expect(VantageCapture(path: "/tmp/run1/client.pcapng").role == .other)
        #expect(VantageCapture(argument: "server=s.pcap") == VantageCapture(name: "server", path: "s.pcap", role: .other))
        #expect(VantageCapture(argument: "router-eth0.pcapng").role == .other)
        // Stated: ROLE: in front of a path or of NAME=PATH.
        #expect(VantageCapture(argument: "client:/tmp/c.pcapng") == VantageCapture(name: "c", path: "/tmp/c.pcapng", role: .client))
        #expect(VantageCapture(argument: "server:edge=s.pcap") == VantageCapture(name: "edge", path: "s.pcap", role: .server))
        #expect(VantageCapture(argument: "router:-") == VantageCapture(name: "stdin", path: "-", role: .router))
        // Anything else before a colon is part of the path (`./client:x.pcap` is that file).
        #expect(VantageCapture(argument: "./client:x.pcap") == VantageCapture(name: "client:x", path: "./client:x.pcap"))
        #expect(VantageCapture(argument: "other:x.pcap").path == "other:x.pcap")
        #expect(VantageCapture(argument: "Client:x.pcap").role == .other)
    }
}
