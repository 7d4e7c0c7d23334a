import Testing
@testable import Analysis

/// Collects the flags `faultline analyze --flags` would print, per frame.
private struct FlagCollector: CaptureAnalysisObserver {
    var flags: [UInt64: AnalysisFlags] = [:]
    mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) {
        let shown = frame.tsharkFlags
        if !shown.isEmpty { flags[frame.frameNumber] = shown }
    }
}

/// Per-flag agreement with tshark: frames where both set the flag / frames where either does
/// (1.0 when neither ever sets it).
func agreement(_ ours: [UInt64: AnalysisFlags], _ theirs: [UInt64: AnalysisFlags], flag: AnalysisFlags) -> (both: Int, either: Int) {
    let a = Set(ours.filter { $0.value.contains(flag) }.keys)
    let b = Set(theirs.filter { $0.value.contains(flag) }.keys)
    return (a.intersection(b).count, a.union(b).count)
}

@Suite("agreement with tshark 4.0.17 on the shared captures")
struct AgreementTests {
    @Test("the shared captures are there")
    func capturesPresent() {
        #expect(SharedCaptures.all.count >= 29, "found \(SharedCaptures.all.count) captures in \(SharedCaptures.directory)")
    }

    @Test("per-flag agreement ≥ 99.5% on every capture", arguments: SharedCaptures.all)
    func flagsAgree(capture: SharedCaptures.Capture) throws {
        let expectedText = try #require(readTextFile(capture.flagsPath), "missing \(capture.flagsPath)")
        let expected = SharedCaptures.parseFlagLines(expectedText)
        var collector = FlagCollector()
        let analysis = try CaptureAnalysis.run(path: capture.path, observer: &collector)
        #expect(analysis.truncation == nil)
        var report: [String] = []
        for (flag, name) in AnalysisFlags.all {
            let (both, either) = agreement(collector.flags, expected, flag: flag)
            guard either > 0 else { continue }
            let ratio = Double(both) / Double(either)
            report.append("\(name) \(both)/\(either)")
            #expect(ratio >= 0.995, "\(capture.name): \(name) agreement \(both)/\(either)")
        }
        print("agreement \(capture.name) [\(analysis.frames) frames]: " + (report.isEmpty ? "no flags (both agree)" : report.joined(separator: ", ")))
        // The aim is 100%: the same flagged frames with the same flag sets.
        #expect(collector.flags == expected, "\(capture.name): flag lines differ from tshark")
    }
}

/// Per-frame values beyond the flags, checked against what tshark printed for four captures
/// (fixtures made with `tshark -T fields -e tcp.stream -e tcp.analysis.ack_rtt ...`, see
/// Fixtures/README.md).
@Suite("per-frame extras agree with tshark")
struct ExtrasTests {
    private struct Collector: CaptureAnalysisObserver {
        var rows: [UInt64: FrameAnalysis] = [:]
        mutating func didAnalyze(_ frame: FrameAnalysis, analyzer: TCPAnalyzer) { rows[frame.frameNumber] = frame }
    }

    static let fixtures = ["zeek-pr33__loss-window-approximation.trace", "semantics__t4_router_receiver.pcap",
                           "semantics__t2_zwin.pcap", "zeek__ssh-dups.pcap"]

    /// tshark prints times as seconds with 9 decimals.
    private static func nanoseconds(_ text: Substring) -> Int64? {
        guard !text.isEmpty else { return nil }
        let parts = text.split(separator: ".")
        guard parts.count == 2, parts[1].count <= 9, let whole = Int64(parts[0]) else { return nil }
        guard let fraction = Int64(parts[1] + String(repeating: "0", count: 9 - parts[1].count)) else { return nil }
        return whole * 1_000_000_000 + fraction
    }

    @Test("stream, ack_rtt, acks_frame, bytes_in_flight, rto, dup-ACK number/frame, initial_rtt, window", arguments: fixtures)
    func extras(name: String) throws {
        let capture = try #require(SharedCaptures.all.first { $0.name == name })
        let fixture = String(#filePath).replacingLastPathComponent(with: "Fixtures/\(name).extras.tsv")
        let text = try #require(readTextFile(fixture), "missing fixture \(fixture)")
        var collector = Collector()
        _ = try CaptureAnalysis.run(path: capture.path, observer: &collector)
        var checked = 0
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard f.count == 11, let frameNumber = UInt64(f[0]) else { continue }
            let ours = try #require(collector.rows[frameNumber], "frame \(frameNumber) not analysed")
            #expect(String(ours.conversationID) == f[1], "frame \(frameNumber) stream")
            #expect(ours.ackRTT == Self.nanoseconds(f[2]), "frame \(frameNumber) ack_rtt")
            #expect(ours.ackedFrame.map { String($0) } ?? "" == f[3], "frame \(frameNumber) acks_frame")
            #expect(ours.bytesInFlight.map { String($0) } ?? "" == f[4], "frame \(frameNumber) bytes_in_flight")
            #expect(ours.rto == Self.nanoseconds(f[5]), "frame \(frameNumber) rto")
            #expect(ours.rtoFrame.map { String($0) } ?? "" == f[6], "frame \(frameNumber) rto_frame")
            #expect(ours.duplicateAckNumber.map { String($0) } ?? "" == f[7], "frame \(frameNumber) duplicate_ack_num")
            #expect(ours.duplicateAckFrame.map { String($0) } ?? "" == f[8], "frame \(frameNumber) duplicate_ack_frame")
            // tshark shows initial_rtt only on frames that have other analysis data.
            if let shown = Self.nanoseconds(f[9]) { #expect(ours.initialRTT == shown, "frame \(frameNumber) initial_rtt") }
            #expect(String(ours.scaledWindow) == f[10], "frame \(frameNumber) window_size")
            checked += 1
        }
        #expect(checked == collector.rows.count)
        print("extras \(name): \(checked) frames checked")
    }
}

extension String {
    func replacingLastPathComponent(with component: String) -> String {
        guard let slash = lastIndex(of: "/") else { return component }
        return String(self[...slash]) + component
    }
}
