import Values
import Foundation
import Testing
@testable import Analysis

/// Retiring finished conversations (issue #12) changes neither tshark's flags nor the findings.
@Suite("retirement of finished conversations")
struct RetirementTests {
    private struct FlagCollector: CaptureAnalysisObserver {
        var lines: [UInt64: (AnalysisFlags, Int)] = [:]
        var retired = 0
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            lines[frame.frameNumber] = (frame.flags, frame.conversationID)
        }
        mutating func willRetire(slot: Int, analyzer: TCPAnalyzer) { retired += 1 }
    }

    /// Captures to compare on: the shared ones, the test fixtures, and any given in
    /// FAULTLINE_EXTRA_CAPTURES (a directory searched for .pcap/.pcapng, e.g. catalog run outputs).
    static let captures: [String] = {
        var paths = SharedCaptures.all.map(\.path)
        let fixtures = String(#filePath).replacingLastPathComponent(with: "Fixtures")
        paths += listDirectory(fixtures).filter { $0.hasSuffix(".pcapng") || $0.hasSuffix(".pcap") }.map { fixtures + "/" + $0 }
        if let extra = ProcessInfo.processInfo.environment["FAULTLINE_EXTRA_CAPTURES"],
           let walker = FileManager.default.enumerator(atPath: extra) {
            for case let file as String in walker where file.hasSuffix(".pcap") || file.hasSuffix(".pcapng") {
                paths.append(extra + "/" + file)
            }
        }
        return paths
    }()

    /// Every conversation retired as soon as possible: closed ones at once, idle ones after 1 µs.
    static let eager = RetirementPolicy(linger: 0, idleTimeout: 1_000)

    @Test("flags and stream numbers are the same when every conversation is retired at once", arguments: captures)
    func flagsUnchanged(path: String) throws {
        var plain = FlagCollector()
        _ = try CaptureAnalysis.run(path: path, observer: &plain)
        for policy in [Self.eager, RetirementPolicy.flags, RetirementPolicy.diagnosis] {
            var retiring = FlagCollector()
            let analysis = try CaptureAnalysis.run(path: path, observer: &retiring, retirement: policy)
            #expect(plain.lines.count == retiring.lines.count)
            for (frame, expected) in plain.lines {
                let got = retiring.lines[frame]
                #expect(got?.0 == expected.0 && got?.1 == expected.1,
                        "\(path) frame \(frame): flags \(expected.0.names) stream \(expected.1), retiring \(got.map { "\($0.0.names) stream \($0.1)" } ?? "missing")")
            }
            if policy == Self.eager { #expect(analysis.analyzer.openCount <= 1 || retiring.retired > 0 || plain.lines.isEmpty) }
        }
    }

    @Test("findings are the same, in the same order, with the diagnosis policy", arguments: captures)
    func findingsUnchanged(path: String) throws {
        let expected = try Diagnoser.diagnose([VantageCapture(path: path)])
        // The last two split conversations often (a packet after the linger revives one whose
        // diagnosis was made): the second reading of the file makes those whole again.
        for policy in [RetirementPolicy.diagnosis, RetirementPolicy(linger: 1_000_000_000, idleTimeout: 60_000_000_000),
                       Self.eager] {
            var observer = DiagnosisObserver(vantage: VantageCapture(path: path).name)
            let analysis = try CaptureAnalysis.run(path: path, observer: &observer, retirement: policy, keepSummaries: true)
            let result = observer.retiredRunResult(of: analysis)
            let got = FindingsJSON.render(result.findings), want = FindingsJSON.render(expected.findings)
            #expect(got == want, "\(path) linger \(policy.linger): revived \(analysis.analyzer.revivedCount)")
            let counts = observer.retirementCounts
            print("retirement \(VantageCapture(path: path).name) linger \(policy.linger / 1_000_000) ms: \(counts.retired) retired, \(counts.deferred) deferred, \(analysis.analyzer.revivedCount) revived, peak \(analysis.analyzer.peakOpenCount) of \(analysis.analyzer.conversationCount)")
            if got != want, ProcessInfo.processInfo.environment["RETIREMENT_DUMP"] != nil {
                try? got.write(toFile: "/tmp/retire-\(VantageCapture(path: path).name)-\(policy.linger)-got.json", atomically: true, encoding: .utf8)
                try? want.write(toFile: "/tmp/retire-\(VantageCapture(path: path).name)-want.json", atomically: true, encoding: .utf8)
            }
            #expect(result.vantages.first?.conversations == expected.vantages.first?.conversations)
            let summary = CaptureSummary(analysis)
            let whole = CaptureSummary(expected.analyses[0])
            if analysis.analyzer.revivedCount == 0 { #expect(summary == whole, "\(path): conversation summaries") }
        }
    }

    @Test("inputs the fuzzer kept: retiring every conversation at once changes no finding where the file can be read",
          arguments: FuzzRegressionTests.inputs)
    func fuzzInputsUnchanged(name: String) throws {
        let path = FuzzRegressionTests.directory + "/" + name
        guard let expected = try? Diagnoser.diagnose([VantageCapture(name: "fuzz", path: path)]) else { return }
        for policy in [RetirementPolicy.diagnosis, Self.eager] {
            var observer = DiagnosisObserver(vantage: "fuzz")
            guard let analysis = try? CaptureAnalysis.run(path: path, observer: &observer, retirement: policy) else {
                Issue.record("\(name): the retiring run failed where the whole one did not")
                return
            }
            #expect(FindingsJSON.render(observer.retiredRunResult(of: analysis).findings) == FindingsJSON.render(expected.findings),
                    "\(name) linger \(policy.linger)")
        }
    }

    /// Which conversation each retirement took, and the frame it came before.
    private struct RetirementLog: CaptureAnalysisObserver {
        var frame: UInt64 = 0
        var retired: [(id: Int, beforeFrame: UInt64)] = []
        var revived: Set<Int> = []
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
            self.frame = frame.frameNumber
            if analyzer.lastRevivedID >= 0 { revived.insert(analyzer.lastRevivedID) }
        }
        mutating func willRetire(slot: Int, analyzer: TCPAnalyzer) {
            retired.append((analyzer.conversations[slot].id, frame))
        }
    }

    @Test("a second reading that pins the split conversations retires every other one where the first reading did, and splits none",
          arguments: captures + FuzzRegressionTests.inputs.map { FuzzRegressionTests.directory + "/" + $0 })
    func pinnedReadingRetiresAlike(path: String) throws {
        for policy in [RetirementPolicy.diagnosis, Self.eager] {
            var first = RetirementLog()
            guard (try? CaptureAnalysis.run(path: path, observer: &first, retirement: policy)) != nil else { continue }
            guard !first.revived.isEmpty else { continue }
            var again = RetirementLog()
            _ = try CaptureAnalysis.run(reader: CaptureReader(path: path), path: path, observer: &again,
                                        retirement: policy, pinned: first.revived)
            // Revived means split: a pinned reading that revives a conversation counts it in parts.
            #expect(again.revived.isEmpty, "\(path) linger \(policy.linger): revived \(again.revived.sorted())")
            let expected = first.retired.filter { !first.revived.contains($0.id) }
            #expect(again.retired.map(\.id) == expected.map(\.id) && again.retired.map(\.beforeFrame) == expected.map(\.beforeFrame),
                    "\(path) linger \(policy.linger)")
        }
    }

    @Test("inputs the fuzzer kept: no finding states a negative time (a clock that steps back, or beyond 2262, in a hostile file)",
          arguments: FuzzRegressionTests.inputs)
    func noNegativeDurations(name: String) throws {
        let path = FuzzRegressionTests.directory + "/" + name
        guard let result = try? Diagnoser.diagnose([VantageCapture(name: "fuzz", path: path)]) else { return }
        func negative(_ value: EvidenceValue) -> Bool {
            switch value {
            case let .double(number): return number < 0
            case let .int(number): return number < 0
            case let .list(values): return values.contains(where: negative)
            default: return false
            }
        }
        for finding in result.findings {
            for (key, value) in finding.evidence where key.hasSuffix("_ms") || key.hasSuffix("_s") {
                #expect(!negative(value), "\(name): \(finding.name) \(key) = \(value)")
            }
        }
    }

    private func segment(_ seq: UInt32, _ ack: UInt32, _ flags: TCPControlFlags, length: UInt32 = 0,
                         fromClient: Bool = true, port: UInt16 = 40000) -> TCPSegment {
        var s = TCPSegment()
        let client = IPAddress(ipv4: 0xC612_0001), server = IPAddress(ipv4: 0xC612_0002)
        s.source = fromClient ? client : server
        s.destination = fromClient ? server : client
        s.sourcePort = fromClient ? port : 80
        s.destinationPort = fromClient ? 80 : port
        s.sequenceNumber = seq
        s.acknowledgmentNumber = ack
        s.flags = flags
        s.payloadLength = length
        s.window = 1000
        return s
    }

    private func feed(_ analyzer: inout TCPAnalyzer, _ segment: TCPSegment, frame: UInt64, time: Int64) -> FrameAnalysis {
        while let slot = analyzer.dueForRetirement(at: time) { analyzer.retire(slot: slot, at: time) }
        return analyzer.analyze(segment, frame: frame, time: time)
    }

    @Test("after retirement: a late FIN is a retransmission, a late ACK a duplicate, a new ISN reused_ports")
    func tombstones() {
        var analyzer = TCPAnalyzer(retirement: .flags)
        _ = feed(&analyzer, segment(100, 0, [.syn]), frame: 1, time: 0)
        _ = feed(&analyzer, segment(500, 101, [.syn, .ack], fromClient: false), frame: 2, time: 1_000)
        _ = feed(&analyzer, segment(101, 501, [.ack]), frame: 3, time: 2_000)
        _ = feed(&analyzer, segment(101, 501, [.ack, .psh], length: 10), frame: 4, time: 3_000)
        _ = feed(&analyzer, segment(111, 501, [.fin, .ack]), frame: 5, time: 4_000)
        _ = feed(&analyzer, segment(501, 112, [.fin, .ack], fromClient: false), frame: 6, time: 5_000)
        _ = feed(&analyzer, segment(112, 502, [.ack]), frame: 7, time: 6_000)
        // Closed: retired before the next packet.
        let late = feed(&analyzer, segment(501, 112, [.fin, .ack], fromClient: false), frame: 8, time: 1_000_000_000)
        #expect(analyzer.retiredCount == 2 && analyzer.revivedCount == 2)
        #expect(late.flags == [.retransmission] && late.conversationID == 0)
        let dupAck = feed(&analyzer, segment(112, 502, [.ack]), frame: 9, time: 2_000_000_000)
        #expect(dupAck.flags == [.duplicateAck] && dupAck.conversationID == 0)
        #expect(analyzer.revivedCount == 3)
        // Retired again (still closed); then the 4-tuple is reused with a new ISN.
        let reused = feed(&analyzer, segment(9_000, 0, [.syn]), frame: 10, time: 700_000_000_000)
        #expect(analyzer.retiredCount == 4)
        #expect(reused.flags == [.reusedPorts] && reused.conversationID == 1)
        let fresh = feed(&analyzer, segment(9_000, 0, [.syn], port: 40001), frame: 11, time: 700_000_000_001)
        #expect(fresh.flags.isEmpty && fresh.conversationID == 2)
    }

    @Test("memory follows the connections open at once: slots are reused, tombstones capped")
    func bounded() {
        var analyzer = TCPAnalyzer(retirement: RetirementPolicy(linger: 0, idleTimeout: 600_000_000_000, tombstoneLimit: 100))
        var frame: UInt64 = 0
        for connection in 0..<5_000 {
            let port = UInt16(10_000 + connection)
            let t = Int64(connection) * 1_000_000
            let isn = UInt32(connection) &* 7_919
            for (s, dt) in [(segment(isn, 0, [.syn], port: port), 0), (segment(77, isn &+ 1, [.syn, .ack], fromClient: false, port: port), 10),
                            (segment(isn &+ 1, 78, [.ack], port: port), 20), (segment(isn &+ 1, 78, [.fin, .ack], port: port), 30),
                            (segment(78, isn &+ 2, [.fin, .ack], fromClient: false, port: port), 40)] {
                frame += 1
                let result = feed(&analyzer, s, frame: frame, time: t + Int64(dt))
                #expect(result.flags.isEmpty)
                #expect(result.conversationID == connection)
            }
        }
        #expect(analyzer.conversationCount == 5_000)
        #expect(analyzer.peakOpenCount <= 2)
        #expect(analyzer.conversations.count <= 2)
    }
}
