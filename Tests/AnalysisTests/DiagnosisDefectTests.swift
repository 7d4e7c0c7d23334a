@testable import Analysis
import Testing

/// Hand-made captures for the defect classes of issue #11: each pins a general rule (not one
/// shared capture): the sender's identity from all its stacks, "no connection" contradicted by the
/// host's own recent segment or by a stray answered segment, severity from consequence, and
/// connections that end in unanswered retransmissions.
@Suite("Diagnosis defect classes (issue #11)")
struct DiagnosisDefectTests {
    typealias Segment = DiagnosisScript.Segment

    static func diagnose(_ s: DiagnosisScript) throws -> [Finding] {
        try DiagnosisSyntheticTests.diagnose(s, [.client]).findings
    }

    @Test("two stacks behind one address: the RST's TTL is compared per stack, and the contrast is reported")
    func twoStacks() throws {
        var s = DiagnosisScript()
        // A front end (TTL 245) answers the handshake and ACKs; the server behind it (TTL 53) sends the data.
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 0, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverISN, ack: s.clientISN &+ 1, flags: 0x012, window: 3840,
                       options: DiagnosisScript.synOptions(scale: 7), ttl: 245), at: 10_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientISN &+ 1, ack: s.serverISN &+ 1, window: 502), at: 10_100_000, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x018, length: 500, window: 502),
               at: 10_200_000, seenBy: [.client])
        s.clientNext &+= 500
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, window: 3840, ttl: 245), at: 30_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, window: 3840, ttl: 245), at: 31_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x018, length: 700, window: 33280, ttl: 53),
               at: 35_000_000, seenBy: [.client])
        s.serverNext &+= 700
        s.clientAck(s.serverNext, at: 36_000_000, seenBy: [.client])
        // 9 s later the front end resets the idle connection at its next sequence number.
        s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 3840, ttl: 245), at: 9_036_000_000,
               seenBy: [.client])
        let findings = try Self.diagnose(s)
        let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
        #expect(rst.evidence["sender_stacks"] != nil)
        #expect(rst.sentence.contains("second stack"))
        #expect(!rst.sentence.contains("as 198.19.0.2's other packets"))
        #expect(SentenceCheck.contradictions(rst).isEmpty)
        // Idle for 9 s with nothing outstanding: the connection lost nothing.
        #expect(rst.severityName == "minor")
        #expect(rst.evidence["outstanding_data"] == .bool(false))
    }

    @Test("bare RST at the ACK number moments after the host's own SYN/ACK: not 'no longer has this connection'")
    func hostHadTheConnection() throws {
        var s = DiagnosisScript()
        let t = s.handshake(at: 0, seenBy: [.client])
        s.clientData(50, at: t, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0, ipID: 0), at: t + 2 * s.oneWay,
               seenBy: [.client])
        let findings = try Self.diagnose(s)
        let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
        #expect(rst.cause != "peer-has-no-connection")
        #expect(rst.analyzerConfidence <= 0.5)
        #expect(rst.sentence.hasPrefix("Uncertain"))
        #expect(!rst.sentence.contains("restarted"))
        #expect(rst.evidence["sender_active_frame"] != nil)
    }

    @Test("a stray ACK with another initial TTL than its address's SYN: the RST answering it claims no lost state")
    func strayAnsweredSegment() throws {
        var s = DiagnosisScript()
        // Stray ACK (TTL 47) for a connection nobody has, answered by a bare RST at its ACK number.
        s.emit(Segment(fromClient: true, seq: 7_000_000, ack: 9_000_000, window: 4096, ttl: 47), at: 0, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: 9_000_000, flags: 0x004, window: 0, ttl: 64), at: 100_000, seenBy: [.client])
        // Later the same address opens a real connection with TTL 128 on another port.
        var other = DiagnosisScript()
        other.clientPort = 40100
        other.serverPort = 424
        other.emit(Segment(fromClient: true, seq: other.clientISN, flags: 0x002, window: 64512, ttl: 128), at: 15_000_000_000,
                   seenBy: [.client])
        other.emit(Segment(fromClient: true, seq: other.clientISN, flags: 0x002, window: 64512, ttl: 128), at: 18_000_000_000,
                   seenBy: [.client])
        s.merge(other)
        let findings = try Self.diagnose(s)
        let rst = try #require(findings.first { $0.kind == "rst" && $0.decisiveFrame == 2 }, "\(findings.names)")
        #expect(rst.analyzerConfidence <= 0.5)
        #expect(!rst.sentence.contains("restarted"))
        #expect(rst.evidence["answered_segment_ttl"] == .int(47))
    }

    @Test("RST after the peer's FIN: the connection was closing, the RST is not critical")
    func rstAfterFIN() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 2, from: t)
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x011, window: 509), at: t, seenBy: [.client])
        s.serverNext &+= 1
        s.clientAck(s.serverNext, at: t + 1_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x014, window: 0), at: t + 6_000_000_000,
               seenBy: [.client])
        let findings = try Self.diagnose(s)
        for rst in findings where rst.kind == "rst" {
            #expect(rst.severityName != "critical", "\(rst.sentence)")
        }
    }

    @Test("RST with data outstanding stays critical")
    func rstWithDataOutstanding() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 2, from: t)
        s.clientData(1000, at: t, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext &- 1000, flags: 0x014, window: 0),
               at: t + 3_000_000_000, seenBy: [.client])
        let findings = try Self.diagnose(s)
        let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
        #expect(rst.severityName == "critical")
    }

    /// One segment sent `copies` times with doubling timeouts, never answered.
    static func unanswered(copies: Int, thenReset: Bool) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 3, from: t)
        let seq = s.clientNext
        var rto: Int64 = 200_000_000
        for _ in 0..<copies {
            s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 600, window: 502), at: t,
                   seenBy: [.client])
            t += rto
            rto *= 2
        }
        s.clientNext = seq &+ 600
        if thenReset {
            s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x014, window: 0), at: t,
                   seenBy: [.client])
        }
        return s
    }

    @Test("one segment sent six times with backoff, peer silent: a dead connection, ambiguous why, critical")
    func deadConnection() throws {
        let findings = try Self.diagnose(Self.unanswered(copies: 6, thenReset: false))
        let dead = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(dead.cause == "undetermined")
        #expect(dead.severityName == "critical")
        #expect(dead.analyzerConfidence <= 0.5)
        #expect(dead.sentence.contains("Ambiguous"))
        #expect(dead.evidence["unanswered_at_end"] == .int(5))
    }

    @Test("an RST right after a run of unanswered retransmissions: the sender's TCP gave up, not an application")
    func senderGaveUp() throws {
        let findings = try Self.diagnose(Self.unanswered(copies: 7, thenReset: true))
        let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
        #expect(rst.cause != "aborted-by-application")
        #expect(rst.analyzerConfidence <= 0.5)
        #expect(rst.sentence.contains("gave up"))
        #expect(rst.evidence["unanswered_retransmissions_before"] == .int(6))
    }
}

/// An RST checked against every earlier peer segment, not only the last (defect class 7).
@Suite("RST after the local side closed with unread data")
struct DiagnosisClosedWithUnreadTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("FIN, then the peer's data keeps coming, RST at the peer's ACK number: an abort, not undetermined")
    func closedWithUnreadData() throws {
        for withACK in [false, true] {
            var s = DiagnosisScript()
            var t = s.handshake(at: 0, seenBy: [.client])
            t = DiagnosisSyntheticTests.exchanges(&s, count: 3, from: t)
            // The server's application closes: FIN. The client acknowledges it and sends more data,
            // which the server never acknowledges.
            s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x011, window: 509),
                   at: t, seenBy: [.client])
            s.serverNext &+= 1
            s.clientAck(s.serverNext, at: t + 2 * s.oneWay, seenBy: [.client])
            s.clientData(1000, at: t + 2 * s.oneWay + 10_000, seenBy: [.client])
            s.clientData(1000, at: t + 2 * s.oneWay + 20_000, seenBy: [.client])
            // The RST answers the first data segment (the vantage already saw the second).
            s.emit(Segment(fromClient: false, seq: s.serverNext, ack: withACK ? s.clientNext &- 1000 : 0,
                           flags: withACK ? 0x014 : 0x004, window: 0),
                   at: t + 2 * s.oneWay + 10_000 + s.oneWay, seenBy: [.client])
            let findings = try DiagnosisDefectTests.diagnose(s)
            let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
            #expect(rst.cause == "aborted-by-application", "\(withACK): \(rst.sentence)")
            #expect(rst.evidence["unread_data"] == .bool(true))
            #expect(rst.severityName != "minor")
            #expect(SentenceCheck.contradictions(rst).isEmpty)
        }
    }
}

/// What is not flow control, and what is not benign (defect class 8).
@Suite("Zero window after both FINs; keep-alive answered by an RST")
struct DiagnosisCloseAndKeepAliveTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("a zero window advertised after both FINs is no zero-window finding")
    func zeroWindowAfterBothFINs() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 3, from: t)
        s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x011, window: 502), at: t, seenBy: [.client])
        s.clientNext &+= 1
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x011, window: 509),
               at: t + 2 * s.oneWay, seenBy: [.client])
        s.serverNext &+= 1
        // The closing side's last ACK advertises a zero window (its buffers freed), twice.
        s.clientAck(s.serverNext, at: t + 3 * s.oneWay + 10_000, window: 0, seenBy: [.client])
        s.clientAck(s.serverNext, at: t + 3_000_000_000, window: 0, seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        #expect(!findings.contains { $0.kind == "zero-window" }, "\(findings.map(\.sentence))")
    }

    @Test("a keep-alive answered by an RST is not benign")
    func keepAliveAnsweredByRST() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 3, from: t)
        // 75 s idle, then a keep-alive (one byte behind the next sequence number); the server,
        // which lost the connection meanwhile, answers with a bare RST at its ACK number.
        t += 75_000_000_000
        s.emit(Segment(fromClient: true, seq: s.clientNext &- 1, ack: s.serverNext, window: 502), at: t, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0, ipID: 0), at: t + 2 * s.oneWay,
               seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        #expect(!findings.contains { $0.name == "keep-alive/benign" }, "\(findings.names)")
        #expect(findings.contains { $0.kind == "rst" }, "\(findings.names)")
    }
}

/// A receive window that limits the sender without reaching zero (inconsistent_printer's class).
@Suite("Narrow receive window")
struct DiagnosisNarrowWindowTests {
    static func narrowStall(stall: Int64, resumeAtOnce: Bool) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        // Bulk data in 1400-byte segments, each pair acknowledged; the window shrinks.
        for window: UInt16 in [40, 30, 20] {
            s.clientData(1400, at: t, seenBy: [.client])
            s.clientData(1400, at: t + 10_000, seenBy: [.client])
            s.serverAck(s.clientNext, at: t + s.oneWay + 20_000, window: window, seenBy: [.client])
            t += 2 * s.oneWay + 100_000
        }
        // Window 1 (x128 = 128 bytes): below one segment, not zero. The sender waits.
        s.serverAck(s.clientNext, at: t, window: 1, seenBy: [.client])
        // The receiver reads: window update, and the sender sends at once (or long after).
        s.serverAck(s.clientNext, at: t + stall, window: 40, seenBy: [.client])
        let resume = t + stall + s.oneWay + (resumeAtOnce ? 50_000 : 3_000_000_000)
        s.clientData(1400, at: resume, seenBy: [.client])
        s.serverAck(s.clientNext, at: resume + s.oneWay + 10_000, window: 40, seenBy: [.client])
        return s
    }

    @Test("window below one segment, never zero, the sender waits 1.4 s and resumes at once: receiver-limited")
    func narrowWindowLimits() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.narrowStall(stall: 1_400_000_000, resumeAtOnce: true))
        let finding = try #require(findings.first { $0.kind == "zero-window" }, "\(findings.names)")
        #expect(finding.cause == "receiver-slow")
        #expect(finding.evidence["window_reached_zero"] == .bool(false))
        #expect(finding.evidence["smallest_window"] == .int(128))
        #expect(!finding.sentence.contains("fell to zero"))
    }

    @Test("a sender that stays idle after the window reopens was not held back by it: no finding")
    func senderHadNothing() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.narrowStall(stall: 1_400_000_000, resumeAtOnce: false))
        #expect(!findings.contains { $0.kind == "zero-window" }, "\(findings.names)")
    }

    @Test("a brief narrow window (one delayed ACK): no finding")
    func briefNarrowWindow() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.narrowStall(stall: 20_000_000, resumeAtOnce: true))
        #expect(!findings.contains { $0.kind == "zero-window" }, "\(findings.names)")
    }
}

/// Zero windows that recur or that the sender overruns (206_example_b's class; issue item 11).
@Suite("Zero-window overruns and recurring brief zero windows")
struct DiagnosisZeroWindowOverrunTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("segments sent beyond a zero window and resent from its edge: the zero-window episode, not path loss")
    func overrunNotLoss() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisLossEvidenceTests.exchanges(&s, count: 3, from: t, seenBy: [.client])
        // The server's window closes at `edge` while four more segments are in flight (dropped).
        s.clientData(1000, at: t, seenBy: [.client])
        let edge = s.clientNext
        for index in 0..<4 { s.clientData(1000, at: t + 10_000 + Int64(index) * 10_000, seenBy: [.client]) }
        for index in 0..<5 {
            s.serverAck(edge, at: t + s.oneWay + 5_000 + Int64(index) * 10_000, window: 0, seenBy: [.client])
        }
        // It reopens 30 ms later; the client resends from the edge.
        let reopen = t + 30_000_000
        s.serverAck(edge, at: reopen, window: 509, seenBy: [.client])
        var seq = edge
        for index in 0..<4 {
            s.emit(Segment(fromClient: true, seq: seq, ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
                   at: reopen + s.oneWay + 10_000 + Int64(index) * 10_000, seenBy: [.client])
            seq &+= 1000
        }
        s.serverAck(seq, at: reopen + 2 * s.oneWay + 60_000, window: 509, seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        let zero = try #require(findings.first { $0.kind == "zero-window" }, "\(findings.names)")
        #expect(zero.evidence["overrun_segments"] == .int(4), "\(zero.evidence)")
        #expect(zero.sentence.contains("beyond the zero window"))
        #expect(!findings.contains { $0.name == "retransmission/packet-loss" || $0.name == "retransmission/congestion-loss" },
                "\(findings.names)")
    }

    @Test("eight brief zero windows, each reopened ~1 ms later: recurrence shows a slow reader")
    func recurringBriefStalls() throws {
        var s = DiagnosisScript()
        s.oneWay = 1_000_000
        var t = s.handshake(at: 0, seenBy: [.client])
        for _ in 0..<8 {
            s.clientData(1000, at: t, seenBy: [.client])
            s.serverAck(s.clientNext, at: t + s.oneWay + 10_000, window: 0, seenBy: [.client])
            s.serverAck(s.clientNext, at: t + s.oneWay + 1_010_000, window: 509, seenBy: [.client])
            t += 2 * s.oneWay + 1_100_000
        }
        let findings = try DiagnosisDefectTests.diagnose(s)
        let zero = try #require(findings.first { $0.kind == "zero-window" }, "\(findings.names)")
        #expect(zero.cause == "receiver-slow")
        #expect(zero.evidence["recurring"] == .bool(true))
    }
}

/// FINs never acknowledged get reported (fin_retransmission's class).
@Suite("Repeated FIN never acknowledged")
struct DiagnosisRepeatedFINTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("a FIN at the ISN, sent before the SYN/ACK and again after it, never acknowledged: reported, out of window")
    func finAtISN() throws {
        var s = DiagnosisScript()
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 0, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x001, window: 64240), at: 50_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverISN, ack: s.clientISN &+ 1, flags: 0x012, window: 65160,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 60_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientISN, ack: s.serverISN &+ 1, flags: 0x011, window: 502),
               at: 70_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverISN &+ 1, ack: 0, flags: 0x004, window: 0), at: 130_000_000,
               seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        let fin = try #require(findings.first { $0.kind == "retransmission" }, "\(findings.names)")
        #expect(fin.sentence.contains("FIN (sent 2 times)"), "\(fin.sentence)")
        #expect(fin.sentence.contains("out of window"))
        #expect(fin.analyzerConfidence <= 0.5)
    }
}

/// A tail-loss probe at a full window while the receiver withholds its ACK (issue #11 item 12).
@Suite("Tail-loss probe inside a zero-window episode")
struct DiagnosisProbeInStallTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("the sender fills the window, probes the last segment, the receiver ACKs late and then closes: not rtt-exceeds-rto")
    func probeAtFullWindow() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        for _ in 0..<6 {
            let (seq, _) = s.clientData(1000, at: t, seenBy: [.client])
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000, window: 32, seenBy: [.client])
            t += 2 * s.oneWay + 1_000_000
        }
        // Window 32 × 128 = 4096 bytes: four segments fill it (tshark: window full on the last).
        var last: UInt32 = 0
        for index in 0..<4 {
            let size: UInt32 = index == 3 ? 1096 : 1000
            let (seq, _) = s.clientData(size, at: t + Int64(index) * 10_000, seenBy: [.client])
            last = seq
        }
        // The receiver withholds its ACK; after 40 ms the sender probes with the last segment.
        s.emit(Segment(fromClient: true, seq: last, ack: s.serverNext, flags: 0x018, length: 1096, window: 502),
               at: t + 40_000_000, seenBy: [.client])
        // 300 ms later it acknowledges everything with a tiny window, then a zero window.
        s.serverAck(s.clientNext, at: t + 300_000_000, window: 1, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 300_100_000, window: 0, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 900_000_000, window: 32, seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        #expect(!findings.contains { $0.cause == "rtt-exceeds-rto" || $0.cause == "packet-loss" }, "\(findings.names)")
        #expect(findings.contains { $0.kind == "zero-window" }, "\(findings.names)")
    }

    /// The flight that fills the window, a probe of its last segment, an RTO resend of its first;
    /// the ACK (with a D-SACK) comes after the resend with `coverWindow` (× 128 bytes); the sender
    /// fills that, and 40 ms later the window is zero, then reopens.
    static func heldAckAtFullWindow(coverWindow: UInt16) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        for _ in 0..<6 {
            let (seq, _) = s.clientData(1000, at: t, seenBy: [.client])
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000, window: 32, seenBy: [.client])
            t += 2 * s.oneWay + 1_000_000
        }
        // Window 32 × 128 = 4096 bytes: four segments fill it (tshark: window full on the last).
        var seqs: [UInt32] = []
        for index in 0..<4 {
            let size: UInt32 = index == 3 ? 1096 : 1000
            seqs.append(s.clientData(size, at: t + Int64(index) * 10_000, seenBy: [.client]).seq)
        }
        // The receiver holds its ACK (its application has not read): a tail-loss probe of the last
        // segment after 5 ms, an RTO resend of the first after 30 ms.
        s.emit(Segment(fromClient: true, seq: seqs[3], ack: s.serverNext, flags: 0x018, length: 1096, window: 502),
               at: t + 5_000_000, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: seqs[0], ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
               at: t + 30_000_000, seenBy: [.client])
        // The resend draws the ACK at once, with a D-SACK for it and the room left.
        s.serverAck(s.clientNext, at: t + 30_150_000, window: coverWindow, sack: [(seqs[0], seqs[0] &+ 1000)],
                    seenBy: [.client])
        s.clientData(UInt32(coverWindow) * 128, at: t + 30_200_000, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 70_000_000, window: 0, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 110_000_000, window: 32, seenBy: [.client])
        return s
    }

    @Test("zw2's live shape: probe at a full window, RTO resend, the late ACK advertising less room, zero only after the next fill: the zero-window episode")
    func heldAckWindowShrinking() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.heldAckAtFullWindow(coverWindow: 8))
        #expect(!findings.contains { $0.kind == "retransmission" }, "\(findings.names) \(findings.map(\.sentence))")
        #expect(findings.contains { $0.kind == "zero-window" }, "\(findings.names)")
    }

    @Test("the same, but the late ACK reopens the whole window: the receiver had room, so the held ACK is not the zero-window episode's")
    func heldAckWindowReopened() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.heldAckAtFullWindow(coverWindow: 32))
        #expect(findings.contains { $0.kind == "retransmission" }, "\(findings.names)")
    }

    /// zw2 on the host: a flight far from filling the 16 KiB window; the receiver, its application
    /// not reading, holds its ACK until its delayed-ACK timer fires at 42 ms; the sender's RTO
    /// (rto_min 10 ms) resends the first segment at 26 ms; the late ACK (with a D-SACK for the
    /// copy) advertises `coverWindow` × 128 bytes; the sender fills that, and the window is zero
    /// `zeroAfter` later.
    static func heldAckWithRoom(coverWindow: UInt16, zeroAfter: Int64) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        for _ in 0..<6 {
            let (seq, _) = s.clientData(1000, at: t, seenBy: [.client])
            s.serverAck(seq &+ 1000, at: t + s.oneWay + 10_000, window: 128, seenBy: [.client])
            t += 2 * s.oneWay + 1_000_000
        }
        let first = s.clientData(1000, at: t, seenBy: [.client]).seq
        for index in 1..<3 { s.clientData(1000, at: t + Int64(index) * 10_000, seenBy: [.client]) }
        s.emit(Segment(fromClient: true, seq: first, ack: s.serverNext, flags: 0x018, length: 1000, window: 502),
               at: t + 26_000_000, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 42_000_000, window: coverWindow, sack: [(first, first &+ 1000)], seenBy: [.client])
        s.clientData(UInt32(coverWindow) * 128, at: t + 42_200_000, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 42_000_000 + zeroAfter, window: 0, seenBy: [.client])
        s.serverAck(s.clientNext, at: t + 42_000_000 + zeroAfter + 400_000_000, window: 128, seenBy: [.client])
        return s
    }

    @Test("zw2 on the host: the RTO resends into a window with room, the late ACK shrinks it, zero 40 ms later: the zero-window episode")
    func heldAckWithRoomThenZero() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.heldAckWithRoom(coverWindow: 40, zeroAfter: 40_000_000))
        #expect(!findings.contains { $0.kind == "retransmission" }, "\(findings.names) \(findings.map(\.sentence))")
        #expect(findings.contains { $0.kind == "zero-window" }, "\(findings.names)")
    }

    @Test("the same, but the window closes only 2 s after the late ACK: not this retransmission's story")
    func heldAckWithRoomZeroMuchLater() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.heldAckWithRoom(coverWindow: 40, zeroAfter: 2_000_000_000))
        #expect(findings.contains { $0.kind == "retransmission" }, "\(findings.names)")
    }

    @Test("the same, but the late ACK reopens the whole window: a reader that keeps up, not the zero-window episode")
    func heldAckWithRoomReopened() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.heldAckWithRoom(coverWindow: 128, zeroAfter: 40_000_000))
        #expect(findings.contains { $0.kind == "retransmission" }, "\(findings.names)")
    }
}

/// Jitter that delivers the FIN before the last data segment (issue #11 item 13).
@Suite("FIN overtaking the last data segment")
struct DiagnosisFINOvertakesTests {
    typealias Segment = DiagnosisScript.Segment

    @Test("at the receiver: FIN before the last segment, one duplicate ACK, then the segment: reordering, not loss")
    func finBeforeLastSegment() throws {
        var s = DiagnosisScript()
        s.oneWay = 5_000_000
        var t = s.handshake(at: 0, seenBy: [.server])
        t = DiagnosisLossEvidenceTests.exchanges(&s, count: 4, from: t, seenBy: [.server])
        s.clientData(1000, at: t, seenBy: [.server])
        let lateSeq = s.clientNext
        let lateID = s.clientIPID
        s.clientIPID &+= 1
        s.clientNext &+= 1000
        // The FIN, sent after the last segment, arrives first; the server's duplicate ACK.
        s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x011, window: 502),
               at: t + 20_000, seenBy: [.server])
        let fin = s.clientNext
        s.serverAck(lateSeq, at: t + s.oneWay + 30_000, sack: [(fin, fin &+ 1)], seenBy: [.server])
        // The late segment (its IP ID before the FIN's), 300 µs later: no retransmission anywhere.
        s.emit(Segment(fromClient: true, seq: lateSeq, ack: s.serverNext, flags: 0x018, length: 1000, window: 502,
                       ipID: lateID), at: t + 330_000, seenBy: [.server])
        s.serverAck(fin &+ 1, at: t + s.oneWay + 340_000, seenBy: [.server])
        let findings = try DiagnosisSyntheticTests.diagnose(s, [.server]).findings
        #expect(!findings.contains { $0.kind == "retransmission" }, "\(findings.names) \(findings.map(\.sentence))")
        #expect(findings.contains { $0.name == "reordering/path-reordering" }, "\(findings.names)")
    }

    @Test("at the receiver, right after the handshake: FIN before all three data segments, which arrive 1-18 ms later: reordering, not loss")
    func finBeforeWholeFlight() throws {
        var s = DiagnosisScript()
        s.oneWay = 120_000_000
        let t = s.handshake(at: 0, seenBy: [.server])
        var late: [(seq: UInt32, id: UInt16, length: UInt32)] = []
        for length: UInt32 in [1448, 1448, 1104] {
            late.append((s.clientNext, s.clientIPID, length))
            s.clientIPID &+= 1
            s.clientNext &+= length
        }
        let fin = s.clientNext
        s.emit(Segment(fromClient: true, seq: fin, ack: s.serverNext, flags: 0x011, window: 502), at: t + 20_000_000,
               seenBy: [.server])
        s.serverAck(late[0].seq, at: t + 20_800_000, sack: [(fin, fin &+ 1)], seenBy: [.server])
        for (index, segment) in late.enumerated() {
            let at = t + 20_900_000 + Int64(index) * 8_000_000
            s.emit(Segment(fromClient: true, seq: segment.seq, ack: s.serverNext, flags: 0x018, length: segment.length,
                           window: 502, ipID: segment.id), at: at, seenBy: [.server])
            let next = segment.seq &+ segment.length
            s.serverAck(next == fin ? fin &+ 1 : next, at: at + 300_000, sack: next == fin ? [] : [(fin, fin &+ 1)],
                        seenBy: [.server])
        }
        let findings = try DiagnosisSyntheticTests.diagnose(s, [.server]).findings
        #expect(!findings.contains { $0.kind == "retransmission" }, "\(findings.names) \(findings.map(\.sentence))")
        #expect(findings.contains { $0.name == "reordering/path-reordering" }, "\(findings.names)")
    }
}
