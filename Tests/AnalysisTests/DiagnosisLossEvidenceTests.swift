@testable import Analysis
import Testing

/// Loss against reordering (issue #11, defect class 4): an ACK sooner than a round trip is
/// evidence of a spurious retransmission, never of loss; without SACK, duplicate ACKs alone cannot
/// tell a lost segment from a late one; a first copy stamped after the segments that revealed
/// its gap is a retransmission, not a late original.
@Suite("Loss evidence: what decides loss, and what cannot")
struct DiagnosisLossEvidenceTests {
    typealias Segment = DiagnosisScript.Segment

    /// At the client: five segments, the first lost on the path, three duplicate ACKs (with SACK
    /// blocks when negotiated), a fast retransmission, the ACK of everything a round trip later.
    /// With `spuriousCopy` the client also resends the second segment just before that ACK.
    /// With `retransmittedSYN` the client's first SYN is answered late: the SYN/ACK arrives just
    /// after the client resent the SYN 1 s later, so the last SYN's "RTT" is 20 µs, not 10 ms.
    static func fastRetransmit(sack: Bool, spuriousCopy: Bool = false, retransmittedSYN: Bool = false) -> DiagnosisScript {
        var s = DiagnosisScript()
        s.oneWay = 5_000_000
        var t: Int64
        if retransmittedSYN {
            for at: Int64 in [0, 1_000_000_000] {
                s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                               options: DiagnosisScript.synOptions(scale: 7, sack: sack)), at: at, seenBy: [.client])
            }
            s.emit(Segment(fromClient: false, seq: s.serverISN, ack: s.clientISN &+ 1, flags: 0x012, window: 65160,
                           options: DiagnosisScript.synOptions(scale: 7, sack: sack)),
                   at: 1_000_020_000 - s.oneWay, seenBy: [.client])
            s.emit(Segment(fromClient: true, seq: s.clientISN &+ 1, ack: s.serverISN &+ 1, window: 502), at: 1_000_030_000,
                   seenBy: [.client])
            t = 1_000_040_000
        } else {
            t = s.handshake(at: 0, sack: sack, seenBy: [.client])
        }
        t = Self.exchanges(&s, count: 5, from: t)
        let first = s.clientNext
        var ends: [UInt32] = []
        for index in 0..<5 {
            s.clientData(1000, at: t + Int64(index) * 10_000, seenBy: [.client])
            ends.append(s.clientNext)
        }
        for index in 1...3 {
            let blocks: [(UInt32, UInt32)] = sack ? [(first &+ 1000, ends[index])] : []
            // Server clock: the client sees it one way later.
            s.serverAck(first, at: t + s.oneWay + Int64(index) * 10_000, sack: blocks, seenBy: [.client])
        }
        let resend = t + 2 * s.oneWay + 50_000
        s.emit(Segment(fromClient: true, seq: first, ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
               at: resend, seenBy: [.client])
        if spuriousCopy {
            s.emit(Segment(fromClient: true, seq: first &+ 1000, ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
                   at: resend + 2 * s.oneWay - 200_000, seenBy: [.client])
        }
        s.serverAck(s.clientNext, at: resend + s.oneWay + 10_000, seenBy: [.client])
        return s
    }

    @Test("without SACK, duplicate ACKs alone: ambiguous between packet-loss and path-reordering, <= 0.5")
    func noSACKAmbiguous() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.fastRetransmit(sack: false))
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "packet-loss")
        #expect(loss.analyzerConfidence <= 0.5)
        #expect(loss.sentence.contains("Ambiguous between packet-loss and path-reordering"), "\(loss.sentence)")
        #expect(loss.evidence["alternative"] == .string("path-reordering"))
    }

    @Test("with SACK blocks standing at the hole: packet-loss, not ambiguous")
    func sackDecides() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.fastRetransmit(sack: true))
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "packet-loss")
        #expect(loss.analyzerConfidence > 0.5)
        #expect(!loss.sentence.contains("Ambiguous"))
    }

    @Test("an ACK sooner than a round trip is listed as why a copy was spurious, never as evidence of loss")
    func soonerACKIsNotLossEvidence() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.fastRetransmit(sack: true, spuriousCopy: true))
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "packet-loss")
        let howKnown = loss.evidence["how_known"]?.description ?? ""
        #expect(!howKnown.contains("sooner than a round trip"), "\(howKnown)")
        #expect(loss.evidence["why_some_were_spurious"]?.description.contains("sooner than a round trip") == true,
                "\(loss.evidence)")
    }

    /// Request/response exchanges one after the other (each a full round trip apart).
    static func exchanges(_ s: inout DiagnosisScript, count: Int, from start: Int64,
                          seenBy: Set<DiagnosisScript.Vantage> = [.client]) -> Int64 {
        var t = start
        for _ in 0..<count {
            s.clientData(100, at: t, seenBy: seenBy)
            s.serverData(1000, at: t + s.oneWay + 50_000, seenBy: seenBy)
            s.clientAck(s.serverNext, at: t + 2 * s.oneWay + 60_000, seenBy: seenBy)
            t += 2 * s.oneWay + 1_000_000
        }
        return t
    }

    static func timestamps(_ value: UInt32) -> [UInt8] {
        [1, 1, 8, 10] + DiagnosisScript.be32(value) + [0, 0, 0, 0]
    }

    @Test("a first copy stamped later than the segment that revealed its gap fills it as a retransmission")
    func laterTSvalIsRetransmission() throws {
        // At the receiver (server): segment A never seen, B and C arrive; dup ACKs; then A's first
        // copy, whose TSval is later than C's and arrives soon after (within a quarter RTT).
        var s = DiagnosisScript()
        s.oneWay = 20_000_000
        var t = s.handshake(at: 0, seenBy: [.server])
        t = Self.exchanges(&s, count: 5, from: t, seenBy: [.server])
        let a = s.clientNext
        s.clientNext &+= 1000  // A: lost before the capture point
        var tsval: UInt32 = 1000
        for _ in 0..<2 {
            s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x018, length: 1000, window: 502,
                           options: Self.timestamps(tsval)), at: t, seenBy: [.server])
            s.clientNext &+= 1000
            s.serverAck(a, at: t + s.oneWay + 10_000, seenBy: [.server])
            tsval += 1
            t += 1_000_000
        }
        s.emit(Segment(fromClient: true, seq: a, ack: s.serverNext, flags: 0x018, length: 1000, window: 502,
                       options: Self.timestamps(tsval + 5)), at: t, seenBy: [.server])
        s.serverAck(s.clientNext, at: t + s.oneWay + 10_000, seenBy: [.server])
        let findings = try DiagnosisSyntheticTests.diagnose(s, [.server]).findings
        #expect(!findings.contains { $0.kind == "reordering" }, "\(findings.names)")
        #expect(findings.contains { $0.name == "retransmission/packet-loss" }, "\(findings.names) \(findings.map(\.sentence))")
    }
}

/// Karn's rule for the handshake (issue #11, defect class 5).
@Suite("Handshake RTT across a retransmitted SYN")
struct DiagnosisKarnTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("a SYN resent after 1 s gives no handshake RTT (which copy was answered?): the path RTT comes from clean ACK samples")
    func retransmittedSYN() throws {
        let s = DiagnosisLossEvidenceTests.fastRetransmit(sack: true, retransmittedSYN: true)
        let findings = try DiagnosisDefectTests.diagnose(s)
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        let rtt = try #require(loss.evidence["path_rtt_ms"]?.doubleValue)
        #expect(rtt > 5 && rtt < 20, "path RTT \(rtt) ms taken across the retransmitted SYN")
        #expect(loss.cause == "packet-loss")
    }
}

/// Delayed ACK against an RTT jump (issue #11, defect class 6).
@Suite("Delayed ACK of a lone trailing segment")
struct DiagnosisDelayedAckTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("the flight acknowledged at the usual RTT, the lone last segment waits, a D-SACK follows: spurious-delayed-ack")
    func loneTrailingSegment() throws {
        var s = DiagnosisScript()
        s.oneWay = 5_000_000
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&s, count: 5, from: t)
        // A flight of three: the first two acknowledged at once (one ACK for two segments)...
        s.clientData(1000, at: t, seenBy: [.client])
        s.clientData(1000, at: t + 10_000, seenBy: [.client])
        let twoAcked = s.clientNext
        let (last, _) = s.clientData(500, at: t + 20_000, seenBy: [.client])
        s.serverAck(twoAcked, at: t + s.oneWay + 20_000, seenBy: [.client])
        // ...the lone last one waits: the RTO fires at 210 ms, the delayed ACK (sent before the copy
        // reached the server) arrives just after, then the D-SACK for the copy.
        let resend = t + 210_000_000
        s.emit(Segment(fromClient: true, seq: last, ack: s.serverNext, flags: 0x018, length: 500, window: 502),
               at: resend, seenBy: [.client])
        s.serverAck(s.clientNext, at: resend + s.oneWay - 1_000_000, seenBy: [.client])
        s.serverAck(s.clientNext, at: resend + s.oneWay + 20_000, sack: [(last, s.clientNext)], seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        let finding = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(finding.cause == "spurious-delayed-ack", "\(finding.sentence)")
        #expect(finding.evidence["lone_trailing_segment"] == .bool(true))
        #expect(!findings.contains { $0.cause == "rtt-exceeds-rto" })
    }
}

/// Pure ACKs lost in one direction, seen from both ends (issue #11 item 9).
@Suite("ACK loss seen at two vantage points")
struct DiagnosisAckLossTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("the server's ACKs leave its capture and never reach the client's; the client resends by timeout: ACK loss, with direction")
    func ackLoss() throws {
        var s = DiagnosisScript()
        s.oneWay = 2_500_000
        var t = s.handshake(at: 0)
        for _ in 0..<5 {
            let (seq, _) = s.clientData(1000, at: t)
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000)
            t += 2 * s.oneWay + 1_000_000
        }
        // Four segments; the server acknowledges each, but its ACKs are lost on the way back.
        let first = s.clientNext
        for index in 0..<4 {
            let (seq, _) = s.clientData(1000, at: t + Int64(index) * 10_000)
            s.serverAck(seq &+ 1000, at: t + s.oneWay + Int64(index) * 10_000 + 5_000, seenBy: [.server])
        }
        // RTO: the client resends the first; the server answers with a D-SACK, which arrives.
        let resend = t + 200_000_000
        s.emit(Segment(fromClient: true, seq: first, ack: s.serverNext, flags: 0x018, length: 1000, window: 502), at: resend)
        s.serverAck(s.clientNext, at: resend + s.oneWay + 10_000, sack: [(first, first &+ 1000)])
        let findings = try DiagnosisSyntheticTests.diagnose(s).findings
        let finding = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(finding.cause == "packet-loss", "\(finding.sentence)")
        #expect(finding.evidence["lost_packets"] == .string("acks"))
        #expect(finding.sentence.contains("ACK loss"))
        #expect(finding.evidence["lost_direction"] == .string("198.19.0.2 → 198.18.0.1"))
        #expect(finding.evidence["acks_missing_at_sender_side"] == .int(4))
        #expect(finding.analyzerConfidence >= 0.8)
        #expect(!findings.contains { $0.cause == "rtt-exceeds-rto" })
    }

    @Test("from the client's capture alone, the same run is not called ACK loss")
    func oneVantageCannotTell() throws {
        var s = DiagnosisScript()
        s.oneWay = 2_500_000
        var t = s.handshake(at: 0, seenBy: [.client])
        for _ in 0..<5 {
            let (seq, _) = s.clientData(1000, at: t, seenBy: [.client])
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000, seenBy: [.client])
            t += 2 * s.oneWay + 1_000_000
        }
        let first = s.clientNext
        for index in 0..<4 { s.clientData(1000, at: t + Int64(index) * 10_000, seenBy: [.client]) }
        let resend = t + 200_000_000
        s.emit(Segment(fromClient: true, seq: first, ack: s.serverNext, flags: 0x018, length: 1000, window: 502), at: resend,
               seenBy: [.client])
        s.serverAck(s.clientNext, at: resend + s.oneWay + 10_000, sack: [(first, first &+ 1000)], seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        #expect(!findings.contains { $0.evidence["lost_packets"] == .string("acks") }, "\(findings.names)")
    }

    @Test("the path slows, the original's ACK comes back after the RTO's copy, the server's capture runs longer: not ACK loss")
    func slowPathReceiverCaptureLonger() throws {
        var s = DiagnosisScript()
        s.oneWay = 2_500_000
        var t = s.handshake(at: 0)
        for _ in 0..<5 {
            let (seq, _) = s.clientData(1000, at: t)
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000)
            t += 2 * s.oneWay + 1_000_000
        }
        // The path slows to 150 ms each way: the server acknowledges the segment at once, but its
        // ACK reaches the client 300 ms after it was sent, after the client's RTO resent it.
        s.oneWay = 150_000_000
        let (seq, _) = s.clientData(1000, at: t)
        s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000)
        let resend = t + 210_000_000
        s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 1000, window: 502), at: resend)
        // The server answers the copy with a D-SACK and closes; the client's capture stopped
        // before either came back (so the server's capture holds two packets more).
        s.serverAck(s.clientNext, at: resend + s.oneWay + 10_000, sack: [(seq, seq &+ 1000)], seenBy: [.server])
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x011, window: 509),
               at: resend + s.oneWay + 20_000, seenBy: [.server])
        let findings = try DiagnosisSyntheticTests.diagnose(s).findings
        #expect(findings.contains { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(!findings.contains { $0.evidence["lost_packets"] == .string("acks") }, "\(findings.names) \(findings.map(\.sentence))")
    }
}

/// Several flows through one short queue (issue #11 item 10).
@Suite("Congestion judged against the path's baseline, not a late flow's own")
struct DiagnosisSharedQueueTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("a flow that starts with the queue already full: its loss is congestion-loss by the other flow's baseline")
    func lateFlowInFullQueue() throws {
        var early = DiagnosisScript()
        var t = early.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&early, count: 4, from: t)
        // The late flow: every round trip 9 ms (a standing queue), then a loss at the full queue.
        var late = DiagnosisScript()
        late.clientPort = 40001
        late.clientISN = 7_000_000
        late.clientNext = late.clientISN &+ 1
        late.oneWay = 4_500_000
        var u = late.handshake(at: 50_000_000, seenBy: [.client])
        u = DiagnosisLossEvidenceTests.exchanges(&late, count: 8, from: u)
        let first = late.clientNext
        var ends: [UInt32] = []
        for index in 0..<5 {
            late.clientData(1000, at: u + Int64(index) * 10_000, seenBy: [.client])
            ends.append(late.clientNext)
        }
        for index in 1...3 {
            late.serverAck(first, at: u + late.oneWay + Int64(index) * 10_000, sack: [(first &+ 1000, ends[index])],
                           seenBy: [.client])
        }
        let resend = u + 2 * late.oneWay + 50_000
        late.emit(Segment(fromClient: true, seq: first, ack: late.serverNext, flags: 0x018, length: 1000, window: 502),
                  at: resend, seenBy: [.client])
        late.serverAck(late.clientNext, at: resend + late.oneWay + 10_000, seenBy: [.client])
        early.merge(late)
        let findings = try DiagnosisDefectTests.diagnose(early)
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "congestion-loss", "\(loss.sentence)")
        #expect(loss.evidence["rtt_baseline_from"] != nil)
        #expect(SentenceCheck.contradictions(loss).isEmpty)
    }

    /// An early flow at the path's RTT (0.2 ms), then a late flow whose handshake took
    /// `handshakeOneWay` each way, `exchanges` data round trips of 9 ms, and a loss.
    static func lateFlow(handshakeOneWay: Int64, exchanges: Int) -> DiagnosisScript {
        var early = DiagnosisScript()
        var t = early.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&early, count: 4, from: t)
        var late = DiagnosisScript()
        late.clientPort = 40001
        late.clientISN = 7_000_000
        late.clientNext = late.clientISN &+ 1
        late.oneWay = handshakeOneWay
        var u = late.handshake(at: 50_000_000, seenBy: [.client])
        late.oneWay = 4_500_000
        u = DiagnosisLossEvidenceTests.exchanges(&late, count: exchanges, from: u)
        let first = late.clientNext
        var ends: [UInt32] = []
        for index in 0..<5 {
            late.clientData(1000, at: u + Int64(index) * 10_000, seenBy: [.client])
            ends.append(late.clientNext)
        }
        for index in 1...3 {
            late.serverAck(first, at: u + late.oneWay + Int64(index) * 10_000, sack: [(first &+ 1000, ends[index])],
                           seenBy: [.client])
        }
        let resend = u + 2 * late.oneWay + 50_000
        late.emit(Segment(fromClient: true, seq: first, ack: late.serverNext, flags: 0x018, length: 1000, window: 502),
                  at: resend, seenBy: [.client])
        late.serverAck(late.clientNext, at: resend + late.oneWay + 10_000, seenBy: [.client])
        early.merge(late)
        return early
    }

    /// The loss right after the late flow's first data round trip: its handshake's and that one
    /// sample are all it measured, both ~45× the path's (Faultline's t6-shared-bottleneck: flows
    /// that start into the full queue lose their first flight).
    @Test("a late flow that loses packets after one inflated data round trip (and an inflated handshake): congestion-loss, not packet-loss")
    func lateFlowLosesEarly() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.lateFlow(handshakeOneWay: 4_500_000, exchanges: 1))
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "congestion-loss", "\(loss.sentence) \(loss.evidence)")
        #expect(loss.evidence["rtt_baseline_from"] != nil)
        #expect(!findings.contains { $0.name == "retransmission/packet-loss" }, "\(findings.names)")
        #expect(SentenceCheck.contradictions(loss).isEmpty)
    }

    /// The handshake got through before the queue stood (1.4 ms, less than 2 ms above the path's),
    /// then three data round trips of 9 ms and the loss.
    @Test("a late flow whose handshake was quick but whose three data round trips before the loss were all 45× the path's: congestion-loss")
    func lateFlowQueueAfterHandshake() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.lateFlow(handshakeOneWay: 700_000, exchanges: 3))
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "congestion-loss", "\(loss.sentence) \(loss.evidence)")
        #expect(!findings.contains { $0.name == "retransmission/packet-loss" }, "\(findings.names)")
    }

    @Test("one inflated data round trip and a quick handshake are not enough: packet-loss with its caveat")
    func lateFlowSingleSample() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.lateFlow(handshakeOneWay: 700_000, exchanges: 1))
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "packet-loss", "\(loss.sentence)")
        #expect(loss.evidence["caveat"] != nil, "\(loss.evidence)")
    }

    /// Five segments at `u`, the first lost: three duplicate ACKs with SACK, the resend, its ACK.
    static func lossEpisode(_ s: inout DiagnosisScript, at u: Int64) {
        let first = s.clientNext
        var ends: [UInt32] = []
        for index in 0..<5 {
            s.clientData(1000, at: u + Int64(index) * 10_000, seenBy: [.client])
            ends.append(s.clientNext)
        }
        for index in 1...3 {
            s.serverAck(first, at: u + s.oneWay + Int64(index) * 10_000, sack: [(first &+ 1000, ends[index])], seenBy: [.client])
        }
        let resend = u + 2 * s.oneWay + 50_000
        s.emit(Segment(fromClient: true, seq: first, ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
               at: resend, seenBy: [.client])
        s.serverAck(s.clientNext, at: resend + s.oneWay + 10_000, seenBy: [.client])
    }

    /// The first flow's RTT rises from 0.2 to 9 ms (a queue filling), then it loses a segment at
    /// 200 ms; a second flow, whose handshake got through at 1.4 ms, measures one 9 ms round
    /// trip and loses a segment `lateLossAfter` later: the same queue's overflow.
    static func queueNeighbours(neighbourCongested: Bool, lateLossAfter: Int64) -> DiagnosisScript {
        var early = DiagnosisScript()
        var t = early.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&early, count: 4, from: t)
        if neighbourCongested { early.oneWay = 4_500_000 }
        t = DiagnosisLossEvidenceTests.exchanges(&early, count: 8, from: t)
        let lossTime = max(t, 200_000_000)
        lossEpisode(&early, at: lossTime)
        var late = DiagnosisScript()
        late.clientPort = 40001
        late.clientISN = 7_000_000
        late.clientNext = late.clientISN &+ 1
        late.oneWay = 700_000
        var u = late.handshake(at: lossTime - 40_000_000, seenBy: [.client])
        late.oneWay = 4_500_000
        u = DiagnosisLossEvidenceTests.exchanges(&late, count: 1, from: u)
        lossEpisode(&late, at: max(u, lossTime + lateLossAfter))
        early.merge(late)
        return early
    }

    @Test("a late flow with one round trip of its own loses a segment while another flow between the same hosts loses packets to the full queue: congestion-loss")
    func lateFlowBesideCongestedFlow() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.queueNeighbours(neighbourCongested: true, lateLossAfter: 20_000_000))
        let late = try #require(findings.first { $0.kind == "retransmission" && $0.flow?.client.hasSuffix(":40001") == true }, "\(findings.names)")
        #expect(late.cause == "congestion-loss", "\(late.sentence) \(late.evidence)")
        #expect(late.evidence["queue_shared_with"] != nil, "\(late.evidence)")
        #expect(late.sentence.contains("same full queue"), "\(late.sentence)")
        #expect(late.analyzerConfidence <= 0.8)
        #expect(!findings.contains { $0.name == "retransmission/packet-loss" }, "\(findings.names)")
        #expect(SentenceCheck.contradictions(late).isEmpty)
    }

    @Test("the same when the other flow's round trips stayed at the path's (random loss there): packet-loss with its caveat")
    func lateFlowBesideUncongestedFlow() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.queueNeighbours(neighbourCongested: false, lateLossAfter: 20_000_000))
        let late = try #require(findings.first { $0.kind == "retransmission" && $0.flow?.client.hasSuffix(":40001") == true }, "\(findings.names)")
        #expect(late.cause == "packet-loss", "\(late.sentence)")
        #expect(late.evidence["caveat"] != nil)
    }

    @Test("the same when the other flow's congestion loss was seconds earlier: packet-loss with its caveat")
    func lateFlowLongAfterCongestedFlow() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.queueNeighbours(neighbourCongested: true, lateLossAfter: 3_000_000_000))
        let late = try #require(findings.first { $0.kind == "retransmission" && $0.flow?.client.hasSuffix(":40001") == true }, "\(findings.names)")
        #expect(late.cause == "packet-loss", "\(late.sentence)")
    }

    /// The first flow as in `queueNeighbours`; a second flow with a quick handshake and eight
    /// round trips of `lateOneWay` × 2 (many samples) loses a segment 20 ms after the first's loss.
    static func measuredNeighbour(lateOneWay: Int64) -> DiagnosisScript {
        var early = DiagnosisScript()
        var t = early.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&early, count: 4, from: t)
        early.oneWay = 4_500_000
        t = DiagnosisLossEvidenceTests.exchanges(&early, count: 8, from: t)
        let lossTime = max(t, 300_000_000)
        lossEpisode(&early, at: lossTime)
        var late = DiagnosisScript()
        late.clientPort = 40001
        late.clientISN = 7_000_000
        late.clientNext = late.clientISN &+ 1
        var u = late.handshake(at: lossTime - 250_000_000, seenBy: [.client])
        late.oneWay = lateOneWay
        u = DiagnosisLossEvidenceTests.exchanges(&late, count: 8, from: u)
        lossEpisode(&late, at: max(u, lossTime + 20_000_000))
        early.merge(late)
        return early
    }

    @Test("a flow whose many round trips stood steadily at 7× the path's (no rise of its own to show) loses a segment while another flow loses packets to the full queue: congestion-loss")
    func measuredFlowBesideCongestedFlow() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.measuredNeighbour(lateOneWay: 700_000))
        let late = try #require(findings.first { $0.kind == "retransmission" && $0.flow?.client.hasSuffix(":40001") == true }, "\(findings.names)")
        #expect(late.cause == "congestion-loss", "\(late.sentence) \(late.evidence)")
        #expect(late.evidence["queue_shared_with"] != nil)
        #expect(SentenceCheck.contradictions(late).isEmpty)
    }

    @Test("the same flow with round trips at the path's own: packet-loss, whatever the other flow saw")
    func flatFlowBesideCongestedFlow() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.measuredNeighbour(lateOneWay: 100_000))
        let late = try #require(findings.first { $0.kind == "retransmission" && $0.flow?.client.hasSuffix(":40001") == true }, "\(findings.names)")
        #expect(late.cause == "packet-loss", "\(late.sentence) \(late.evidence)")
    }

    @Test("a lone flow with a single inflated sample before its loss keeps the caveat: its own faster round trips after the loss do not make it measurable")
    func loneFlowFewSamples() throws {
        var s = DiagnosisScript()
        s.oneWay = 4_500_000
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&s, count: 1, from: t)
        let first = s.clientNext
        var ends: [UInt32] = []
        for index in 0..<5 {
            s.clientData(1000, at: t + Int64(index) * 10_000, seenBy: [.client])
            ends.append(s.clientNext)
        }
        for index in 1...3 {
            s.serverAck(first, at: t + s.oneWay + Int64(index) * 10_000, sack: [(first &+ 1000, ends[index])], seenBy: [.client])
        }
        let resend = t + 2 * s.oneWay + 50_000
        s.emit(Segment(fromClient: true, seq: first, ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
               at: resend, seenBy: [.client])
        s.serverAck(s.clientNext, at: resend + s.oneWay + 10_000, seenBy: [.client])
        // After the loss the round trips are fast (0.2 ms): the flow's own, not another flow's.
        s.oneWay = 100_000
        _ = DiagnosisLossEvidenceTests.exchanges(&s, count: 4, from: resend + 20_000_000)
        let findings = try DiagnosisDefectTests.diagnose(s)
        let loss = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(loss.cause == "packet-loss", "\(loss.sentence)")
        #expect(loss.evidence["caveat"] != nil, "\(loss.evidence)")
    }
}
