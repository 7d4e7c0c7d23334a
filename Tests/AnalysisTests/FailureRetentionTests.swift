@testable import Analysis
import Glibc
import Testing

/// The failure pass lets go of finished flows no failure mode could use (issue #12,
/// Failures/FlowRetention.swift): each failure mode's story, among healthy short connections
/// before, during and after it, gives the same findings in the same order when the capture is
/// diagnosed whole and when every conversation is retired as soon as it ends — and the healthy
/// connections are let go.
@Suite("Failure pass: flows let go")
struct FailureRetentionTests {
    typealias Segment = DiagnosisScript.Segment
    static let ms: Int64 = 1_000_000

    /// `count` short healthy connections (handshake, request, answer, FIN both ways), one every
    /// 40 ms from `start`, from client ports 42000 upward.
    static func healthy(_ count: Int, from start: Int64) -> DiagnosisScript {
        var all = DiagnosisScript()
        for i in 0..<count {
            var s = DiagnosisScript()
            s.clientPort = UInt16(42000 + i)
            s.clientISN = 7_000_000 &+ UInt32(i) &* 100_000
            s.clientNext = s.clientISN &+ 1
            var t = s.handshake(at: start + Int64(i) * 40 * Self.ms)
            s.clientData(100, at: t)
            s.serverData(300, at: t + s.oneWay + 50_000)
            t += 2 * s.oneWay + 100_000
            s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x011, window: 502), at: t)
            s.clientNext &+= 1
            s.emit(Segment(fromClient: false, seq: s.serverNext, ack: s.clientNext, flags: 0x011, window: 509),
                   at: t + s.oneWay + 10_000)
            s.serverNext &+= 1
            s.emit(Segment(fromClient: true, seq: s.clientNext, ack: s.serverNext, flags: 0x010, window: 502),
                   at: t + 2 * s.oneWay + 20_000)
            all.merge(s)
        }
        return all
    }

    /// The failure modes' own stories (FailureModeTests), by the finding each must keep giving.
    static let stories: [(name: String, expected: String, script: DiagnosisScript, listened: Int64?)] = {
        var overflow = DiagnosisScript()
        _ = overflow.handshake(at: 0)
        var late = DiagnosisScript()
        late.clientPort = 40001
        for t: Int64 in [0, 1, 2] { late.emit(FailureModeTests.syn(late), at: 50 * ms + t * 1_000_000_000) }
        let answer = 50 * ms + 2_000_000_000 + late.oneWay + 10_000
        late.emit(Segment(fromClient: false, seq: late.serverISN, ack: late.clientISN &+ 1, flags: 0x012, window: 65160,
                          options: DiagnosisScript.synOptions(scale: 7)), at: answer)
        late.emit(Segment(fromClient: true, seq: late.clientISN &+ 1, ack: late.serverISN &+ 1, flags: 0x010, window: 502),
                  at: answer + 2 * late.oneWay)
        overflow.merge(late)
        return [
            ("listen-queue overflow", "syn/listen-queue-overflow", overflow, nil),
            // (The capture at the server listened through the silence: its recorded window says so.)
            ("path down", "connection-lost/peer-or-path-down", FailureModeTests.stalled(idle: 0), 12_000_000_000),
            ("middlebox forgot", "connection-lost/middlebox-state-expired", FailureModeTests.stalled(idle: 2_000_000_000),
             12_000_000_000),
            ("Nagle", "stall/nagle-delayed-ack", FailureModeTests.exchanges(first: 100, rest: 100), nil),
            ("bufferbloat", "latency/bufferbloat", FailureModeTests.bloated(victim: true), nil),
            ("window limited", "throughput/receive-window-limited", FailureModeTests.windowLimited(stripped: true), nil),
            ("MTU black hole", "retransmission/path-mtu-black-hole", FailureModeTests.blackHole(), nil),
        ]
    }()

    @Test("each failure mode among 60 healthy connections: the same findings whole and retired, healthy flows let go",
          arguments: stories.indices)
    func sameFindings(index: Int) throws {
        let story = Self.stories[index]
        var script = story.script
        script.merge(Self.healthy(60, from: 0))
        let windows = story.listened.map { [DiagnosisScript.Vantage.client: (Int64(0), $0), .server: (Int64(0), $0)] } ?? [:]
        let captures = try script.write([.client, .server], windows: windows)
        defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
        let together = try Diagnoser.diagnose(captures)
        #expect(together.findings.contains { $0.name == story.expected }, "\(story.name): \(together.findings.map(\.name))")
        for capture in captures {
            let whole = try Diagnoser.diagnose([capture])
            var observer = DiagnosisObserver(vantage: capture.name)
            let analysis = try CaptureAnalysis.run(path: capture.path, observer: &observer, retirement: RetirementTests.eager)
            let result = observer.retiredRunResult(of: analysis)
            #expect(FindingsJSON.render(result.findings) == FindingsJSON.render(whole.findings),
                    "\(story.name) at \(capture.name): \(result.findings.map(\.name)) retired, \(whole.findings.map(\.name)) whole")
            // The healthy connections were let go; the story's own flows were kept.
            #expect(observer.failureTrace.letGo.count >= 60, "\(story.name) at \(capture.name): \(observer.failureTrace.letGo.count) let go")
        }
    }

    @Test("a SYN on the ports of a connection retired while idle (a new conversation to the analyzer, no revival) changes no finding: the trace reads those endpoints whole again")
    func synAfterIdleRetirement() throws {
        var s = DiagnosisScript()
        let t = s.handshake(at: 0, seenBy: [.server])
        s.clientData(100, at: t, seenBy: [.server])
        s.serverAck(s.clientNext, at: t + s.oneWay + 10_000, seenBy: [.server])
        // Ten seconds of silence, then a SYN with another ISN on the same ports, never answered.
        s.emit(Segment(fromClient: true, seq: 99_000_000, ack: 0, flags: 0x002, window: 64240,
                       options: DiagnosisScript.synOptions(scale: 7)), at: 10_000_000_000, seenBy: [.server])
        let captures = try s.write([.server])
        defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
        let whole = try Diagnoser.diagnose([captures[0]])
        var observer = DiagnosisObserver(vantage: captures[0].name)
        let analysis = try CaptureAnalysis.run(path: captures[0].path, observer: &observer,
                                               retirement: RetirementPolicy(linger: 0, idleTimeout: 1_000_000_000))
        let retired = observer.retiredRunResult(of: analysis).findings
        #expect(FindingsJSON.render(retired) == FindingsJSON.render(whole.findings),
                "\(retired.map(\.name)) retired, \(whole.findings.map(\.name)) whole")
    }

    @Test("read from a stream (nothing can be read twice), the failure modes are found as from the file")
    func stream() throws {
        var script = FailureModeTests.bloated(victim: true)
        script.merge(Self.healthy(20, from: 0))
        let captures = try script.write([.client])
        defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
        let fd = open(captures[0].path, O_RDONLY)
        #expect(fd >= 0)
        defer { close(fd) }
        var observer = DiagnosisObserver(vantage: "stdin")
        let analysis = try CaptureAnalysis.run(reader: CaptureReader(fileDescriptor: fd), path: "-", observer: &observer,
                                               retirement: .diagnosis)
        let streamed = observer.retiredRunResult(of: analysis).findings
        let whole = try Diagnoser.diagnose([captures[0]]).findings
        #expect(streamed.contains { $0.name == "latency/bufferbloat" }, "\(streamed.map(\.name))")
        #expect(streamed.map(\.name) == whole.map(\.name))
    }

    @Test("a flow with any failure symptom is kept: a resent segment, a RST, a SYN sent twice, a 60 ms round trip")
    func symptomsKept() throws {
        func flow(_ build: (inout DiagnosisScript) -> Void) throws -> FlowTrace {
            var s = DiagnosisScript()
            build(&s)
            let captures = try s.write([.client])
            defer { TemporaryDirectory.remove(TemporaryDirectory.directory(of: captures[0].path)) }
            let trace = try #require(FailureTrace.read(vantage: "client", path: captures[0].path))
            return try #require(trace.flows.first)
        }
        let healthy = try flow { s in
            let t = s.handshake(at: 0)
            s.clientData(100, at: t)
            s.serverData(100, at: t + s.oneWay)
        }
        #expect(!FailureContext.mayUse(healthy))
        let resent = try flow { s in
            let t = s.handshake(at: 0)
            let sent = s.clientData(100, at: t)
            s.emit(Segment(fromClient: true, seq: sent.seq, ack: s.serverNext, flags: 0x018, length: 100, window: 502), at: t + 200 * Self.ms)
        }
        #expect(FailureContext.mayUse(resent))
        let reset = try flow { s in
            let t = s.handshake(at: 0)
            s.emit(Segment(fromClient: false, seq: s.serverNext, flags: 0x004, window: 0), at: t)
        }
        #expect(FailureContext.mayUse(reset))
        let synTwice = try flow { s in
            s.emit(FailureModeTests.syn(s), at: 0)
            _ = s.handshake(at: 1_000_000_000)
        }
        #expect(FailureContext.mayUse(synTwice))
        let slowPath = try flow { s in
            s.oneWay = 30 * Self.ms
            _ = s.handshake(at: 0)
        }
        #expect(FailureContext.mayUse(slowPath))
    }
}
