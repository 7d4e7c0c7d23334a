@testable import Analysis
import Testing

/// Forged RSTs told from a host's own by the sender's identity (issue #11, defect classes 2 and
/// 3): the IP ID a forger copies from the segment it answers, the host that keeps acknowledging
/// with its own IP ID sequence, reserved bits, an ACK at the ISN, and a TTL off by the path —
/// each an independent sign, and confidence rising with their number.
@Suite("Forged RSTs: identity of the sender from all its signals")
struct DiagnosisForgeryTests {
    typealias Segment = DiagnosisScript.Segment

    /// The client sends `inFlight` data segments; a box on the path answers each with an RST
    /// claiming to come from the server, carrying the IP ID of the segment it answers, while the
    /// server itself keeps acknowledging them with its own IP ID sequence.
    static func midStreamInjection(inFlight: Int, withACK: Bool, ttl: UInt8 = 63) -> DiagnosisScript {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 4, from: t)
        var sent: [(seq: UInt32, end: UInt32, ipID: UInt16)] = []
        for index in 0..<inFlight {
            let (seq, id) = s.clientData(1000, at: t + Int64(index) * 10_000, seenBy: [.client])
            sent.append((seq, s.clientNext, id))
        }
        // The forger is nearer the client than the server: its RSTs come before the real ACKs.
        for (index, segment) in sent.enumerated() {
            s.emit(Segment(fromClient: false, seq: s.serverNext, ack: withACK ? segment.end : 0,
                           flags: withACK ? 0x014 : 0x004, window: 0, ttl: ttl, ipID: segment.ipID),
                   at: t + 60_000 + Int64(index) * 10_000, seenBy: [.client])
        }
        for (index, segment) in sent.enumerated() {
            s.serverAck(segment.end, at: t + 2 * s.oneWay + 50_000 + Int64(index) * 10_000, seenBy: [.client])
        }
        return s
    }

    @Test("a run of RSTs each carrying the IP ID of the segment it answers, the host still acknowledging: injected")
    func midStreamRun() throws {
        for withACK in [true, false] {
            let findings = try DiagnosisDefectTests.diagnose(Self.midStreamInjection(inFlight: 4, withACK: withACK))
            let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
            #expect(rst.cause == "injected-by-middlebox", "\(withACK): \(rst.sentence)")
            #expect(rst.analyzerConfidence >= 0.8)
            #expect(rst.evidence["rsts_copying_answered_ip_id"] == .int(4))
            #expect(rst.evidence["host_kept_talking_after_rst"] == .bool(true))
            #expect(rst.sentence.contains("IP ID"))
            #expect(SentenceCheck.contradictions(rst).isEmpty)
            #expect(!findings.contains { $0.cause == "aborted-by-application" })
        }
    }

    @Test("one RST copying the answered IP ID, nothing else: injected, but not with high confidence")
    func singleCopiedIPID() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 4, from: t)
        let (_, id) = s.clientData(1000, at: t, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x014, window: 0, ttl: 63, ipID: id),
               at: t + 2 * s.oneWay, seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
        #expect(rst.cause == "injected-by-middlebox", "\(rst.sentence)")
        #expect(rst.analyzerConfidence < 0.8)
        #expect(rst.analyzerConfidence > 0.5)
    }

    @Test("the host's own abort continuing its IP ID sequence stays an application abort")
    func ownAbortNotForged() throws {
        var s = DiagnosisScript()
        var t = s.handshake(at: 0, seenBy: [.client])
        t = DiagnosisSyntheticTests.exchanges(&s, count: 4, from: t)
        s.clientData(1000, at: t, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x014, window: 0),
               at: t + 2 * s.oneWay, seenBy: [.client])
        let findings = try DiagnosisDefectTests.diagnose(s)
        let rst = try #require(findings.first { $0.kind == "rst" }, "\(findings.names)")
        #expect(rst.cause == "aborted-by-application", "\(rst.sentence)")
    }

    /// A SYN answered at once by a forged RST/ACK (several signs chosen by the caller), then the
    /// real SYN/ACK: the connection survives; later the server aborts it itself.
    static func forgedOnSYN(ttlOff: Bool, reserved: Bool, ackAtISN: Bool, copyIPID: Bool) -> DiagnosisScript {
        var s = DiagnosisScript()
        let synID = s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                                   options: DiagnosisScript.synOptions(scale: 7)), at: 0, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: 0, ack: ackAtISN ? s.clientISN : s.clientISN &+ 1,
                       flags: 0x014 | (reserved ? 0x0200 : 0), window: 0, ttl: ttlOff ? 57 : 63,
                       ipID: copyIPID ? synID : 0x4321), at: 50_000, seenBy: [.client])
        s.emit(Segment(fromClient: false, seq: s.serverISN, ack: s.clientISN &+ 1, flags: 0x012, window: 65160,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 200_000, seenBy: [.client])
        s.emit(Segment(fromClient: true, seq: s.clientISN &+ 1, ack: s.serverISN &+ 1, window: 502), at: 210_000, seenBy: [.client])
        let t = DiagnosisSyntheticTests.exchanges(&s, count: 4, from: 300_000)
        // The server's own abort, much later, from its live socket (continuing its IP ID sequence).
        s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x014, window: 0),
               at: t + 5_000_000, seenBy: [.client])
        return s
    }

    @Test("forged RST on a SYN: independent signs combine, confidence rises with their number")
    func forgedOnSYNSigns() throws {
        let one = try DiagnosisDefectTests.diagnose(Self.forgedOnSYN(ttlOff: true, reserved: false, ackAtISN: false,
                                                                    copyIPID: false))
        let four = try DiagnosisDefectTests.diagnose(Self.forgedOnSYN(ttlOff: true, reserved: true, ackAtISN: true,
                                                                     copyIPID: true))
        let weak = try #require(one.first { $0.kind == "rst" && $0.decisiveFrame == 2 }, "\(one.names)")
        let strong = try #require(four.first { $0.kind == "rst" && $0.decisiveFrame == 2 }, "\(four.names)")
        #expect(weak.cause == "injected-by-middlebox")
        #expect(strong.cause == "injected-by-middlebox")
        #expect(strong.analyzerConfidence > weak.analyzerConfidence)
        #expect(strong.analyzerConfidence >= 0.9)
        #expect(strong.evidence["forgery_signs"]?.description.contains("reserved") == true)
        #expect(strong.evidence["forgery_signs"]?.description.contains("ISN") == true)
        // The connection survived the forged RST: not critical.
        #expect(strong.severityName != "critical", "\(strong.sentence)")
        #expect(strong.evidence["connection_survived"] == .bool(true))
        #expect(SentenceCheck.contradictions(strong).isEmpty)
        // The server's own later RST is a finding of its own.
        let own = try #require(four.first { $0.kind == "rst" && $0.decisiveFrame != 2 }, "\(four.names)")
        #expect(own.cause == "aborted-by-application", "\(own.sentence)")
    }

    @Test("without any sign beyond the ACK at the ISN a lone RST on a SYN is not called forged at high confidence")
    func ackAtISNAlone() throws {
        let findings = try DiagnosisDefectTests.diagnose(Self.forgedOnSYN(ttlOff: false, reserved: false, ackAtISN: true,
                                                                         copyIPID: false))
        let rst = try #require(findings.first { $0.kind == "rst" && $0.decisiveFrame == 2 }, "\(findings.names)")
        #expect(rst.analyzerConfidence < 0.8)
    }
}
