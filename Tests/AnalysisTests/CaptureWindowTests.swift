@testable import Analysis
import Testing

/// A packet's absence from a capture means something only while that capture was listening. These
/// tests pin the three shapes of a silent capture at the RST sender's side: empty with a recorded
/// window, a few early packets with a recorded window reaching past the RST, and no window at all.
@Suite("Capture window: absence counts only while a capture listened")
struct CaptureWindowTests {
    typealias Segment = DiagnosisScript.Segment

    /// The time the forged RST reaches the client: two seconds into the test, long after the
    /// server capture's few unrelated packets.
    static let synTime: Int64 = 2_000_000_000

    /// The r2-firewall-on-syn shape: the client's SYN never reaches the server; a box on the path
    /// answers it with RST/ACK. Only the client capture holds the flow.
    static func firewalledSYN() -> DiagnosisScript {
        var s = DiagnosisScript()
        s.emit(Segment(fromClient: true, seq: s.clientISN, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: synTime, seenBy: [.client])
        s.inject(Segment(fromClient: false, seq: 0, ack: s.clientISN &+ 1, flags: 0x014, window: 0),
                 at: synTime + s.oneWay, into: .client, ttl: 64, ipID: 0)
        return s
    }

    /// Non-TCP packets (UDP between other hosts, like the IPv6 multicast reports a fresh
    /// namespace sends) at the server's vantage at `times`.
    static func unrelated(_ s: inout DiagnosisScript, at times: [Int64]) {
        for time in times {
            var spec = SegmentSpec()
            spec.src = [198, 19, 0, 77]
            spec.dst = [224, 0, 0, 22]
            spec.sport = 5353
            spec.dport = 5353
            s.appendRaw(.server, DiagnosisScript.Packet(time: time, bytes: Frames.ipv4(spec, proto: 17)))
        }
    }

    static func diagnose(_ s: DiagnosisScript, windows: [DiagnosisScript.Vantage: (start: Int64, end: Int64)],
                         statingRoles: Bool = true) throws -> DiagnosisResult {
        let captures = try s.write([.client, .server], windows: windows, statingRoles: statingRoles)
        defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
        return try Diagnoser.diagnose(captures)
    }

    static let wholeTest = (start: Int64(0), end: Int64(4_000_000_000))

    @Test("the reader exposes a pcapng file's recorded window (isb_starttime, isb_endtime) in ns")
    func readerWindow() throws {
        var s = Self.firewalledSYN()
        Self.unrelated(&s, at: [10_000_000])
        let bytes = s.pcapng(.server, window: (start: 5_000_000, end: 3_000_000_000))
        let reader = try CaptureReader(bytes: bytes)
        while try reader.next() != nil {}
        let statistics = try #require(reader.statistics.first)
        #expect(statistics.startTime == DiagnosisScript.fileEpoch + 5_000_000)
        #expect(statistics.endTime == DiagnosisScript.fileEpoch + 3_000_000_000)
        // Classic pcap records none.
        let classic = try CaptureReader(bytes: s.pcap(.server))
        while try classic.next() != nil {}
        #expect(classic.statistics.isEmpty)
    }

    @Test("a recorded window in microseconds (if_tsresol 6) converts to ns")
    func readerWindowMicroseconds() throws {
        var file = Pcapng.section() + Pcapng.interface(linkType: 101, tsresol: 6)
        file += Pcapng.block(5, littleEndian: true) { b in
            b.u32(0); b.u32(0); b.u32(3_000_000)
            var start = Bytes(); start.u32(0); start.u32(1_000_000)
            var end = Bytes(); end.u32(0); end.u32(3_000_000)
            Pcapng.option(2, start.data, &b)
            Pcapng.option(3, end.data, &b)
            Pcapng.option(0, [], &b)
        }
        let reader = try CaptureReader(bytes: file)
        while try reader.next() != nil {}
        #expect(reader.statistics.first?.startTime == 1_000_000_000)
        #expect(reader.statistics.first?.endTime == 3_000_000_000)
    }

    @Test("empty server capture with a recorded window over the RST: injected-by-middlebox, high")
    func emptyWithWindow() throws {
        let result = try Self.diagnose(Self.firewalledSYN(), windows: [.server: Self.wholeTest])
        let finding = try #require(result.findings.named("rst/injected-by-middlebox").first, "\(result.findings.names)")
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(finding.evidence["absent_at_sender_side"] == .string("server"))
        #expect(finding.evidence["sender_side_window"] == .string("recorded"))
        #expect(finding.evidence["caveat"] == nil)
        #expect(result.findings.named("rst/refused-by-host").isEmpty)
    }

    @Test("the same captures named client and server, with no role given: the names say nothing, the packets cannot place them")
    func namesAreNotRoles() throws {
        let result = try Self.diagnose(Self.firewalledSYN(), windows: [.server: Self.wholeTest], statingRoles: false)
        // Nothing in the (empty) server capture puts it at the RST's claimed sender: its silence
        // is no evidence, and what stays is the RST as the client saw it.
        #expect(result.findings.allSatisfy { $0.evidence["absent_at_sender_side"] == nil }, "\(result.findings.names)")
        #expect(result.findings.named("rst/injected-by-middlebox").allSatisfy { $0.analyzerConfidence < 0.9 }, "\(result.findings.names)")
    }

    @Test("a capture named client.pcap, with no role given, is not taken to be the client's")
    func noRoleFromFileName() throws {
        let captures = try Self.firewalledSYN().write([.client], statingRoles: false)
        defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
        #expect(captures[0].name == "client" && captures[0].path.hasSuffix("/client.pcap"))
        var observer = DiagnosisObserver(vantage: captures[0].name)
        let analysis = try CaptureAnalysis.run(path: captures[0].path, observer: &observer)
        #expect(observer.digest(of: analysis).role == .other)
        #expect(observer.digest(of: analysis, role: .client).role == .client)
        var retiring = DiagnosisObserver(vantage: captures[0].name)
        let retired = try CaptureAnalysis.run(path: captures[0].path, observer: &retiring, retirement: .diagnosis)
        #expect(retiring.retiredRunResult(of: retired).findings.map(\.name) == (try Diagnoser.diagnose(captures)).findings.map(\.name))
    }

    @Test("server capture with a few packets ending 2 s before the RST, window covering it: injected, high")
    func fewEarlyPacketsWithWindow() throws {
        var s = Self.firewalledSYN()
        Self.unrelated(&s, at: [1_000_000, 30_000_000, 70_000_000])
        let result = try Self.diagnose(s, windows: [.server: Self.wholeTest])
        let finding = try #require(result.findings.named("rst/injected-by-middlebox").first, "\(result.findings.names)")
        #expect(finding.analyzerConfidence >= 0.9)
        #expect(finding.evidence["sender_side_window"] == .string("recorded"))
        #expect(finding.sentence.contains("never shows it leaving"))
        #expect(result.findings.named("rst/refused-by-host").isEmpty)
    }

    @Test("a recorded window that ends before the RST: the server capture's silence is no evidence")
    func windowEndsBeforeRST() throws {
        var s = Self.firewalledSYN()
        Self.unrelated(&s, at: [1_000_000, 30_000_000, 70_000_000])
        let result = try Self.diagnose(s, windows: [.server: (start: 0, end: 100_000_000)])
        #expect(result.findings.named("rst/injected-by-middlebox").isEmpty, "\(result.findings.names)")
        let finding = try #require(result.findings.first { $0.kind == "rst" })
        #expect(finding.evidence["absent_at_sender_side"] == nil)
        #expect(finding.evidence["missing"]?.description.contains("was not listening") == true)
    }

    @Test("no window (classic pcap), packets only early: absence unused, window unknown, confidence <= 0.5")
    func noWindowFewEarlyPackets() throws {
        var s = Self.firewalledSYN()
        Self.unrelated(&s, at: [1_000_000, 30_000_000, 70_000_000])
        let result = try Self.diagnose(s, windows: [:])
        let finding = try #require(result.findings.first { $0.kind == "rst" }, "\(result.findings.names)")
        #expect(finding.cause != "injected-by-middlebox")
        #expect(finding.analyzerConfidence <= 0.5)
        #expect(finding.evidence["caveat"]?.description.contains("capture window is unknown") == true)
        #expect(finding.evidence["sender_side_window"] == .string("unknown (server)"))
        #expect(finding.sentence.contains("Uncertain"))
    }

    @Test("no window, empty classic pcap: no stronger claim than from a capture with packets")
    func noWindowEmpty() throws {
        let result = try Self.diagnose(Self.firewalledSYN(), windows: [:])
        let finding = try #require(result.findings.first { $0.kind == "rst" }, "\(result.findings.names)")
        #expect(finding.analyzerConfidence <= 0.5)
        #expect(finding.evidence["caveat"]?.description.contains("capture window is unknown") == true)
    }

    @Test("no window, but the capture's own packets surround the RST: injected, with a caveat and lower confidence")
    func noWindowPacketsSurround() throws {
        var s = Self.firewalledSYN()
        Self.unrelated(&s, at: [1_000_000, 3_000_000_000])
        let result = try Self.diagnose(s, windows: [:])
        let finding = try #require(result.findings.named("rst/injected-by-middlebox").first, "\(result.findings.names)")
        #expect(finding.analyzerConfidence < 0.9)
        #expect(finding.analyzerConfidence >= 0.75)
        #expect(finding.evidence["sender_side_window"] == .string("packets only"))
        #expect(finding.evidence["caveat"]?.description.contains("does not record when it was listening") == true)
    }
}
