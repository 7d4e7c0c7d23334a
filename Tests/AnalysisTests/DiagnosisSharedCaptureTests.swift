import Analysis
import Testing

/// The real captures in `<repo>/../shared/captures` whose README row names a cause: the
/// diagnosis must find that cause (and nothing that contradicts it); clean controls must give
/// no failure finding.
@Suite("Diagnosis on shared captures")
struct DiagnosisSharedCaptureTests {
    static let directory: String = {
        var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // this file, AnalysisTests, Tests
        return parts.joined(separator: "/") + "/../shared/captures"
    }()

    static func diagnose(_ files: [(String, String)]) throws -> DiagnosisResult {
        try Diagnoser.diagnose(files.map { VantageCapture(name: $0.0, path: directory + "/" + $0.1) })
    }

    static func diagnose(_ file: String) throws -> [Finding] {
        try diagnose([("capture", file)]).findings
    }

    @Test("zero window that reopens: receiver-slow, with the shrinking windows as evidence")
    func zeroWindowRecovery() throws {
        let findings = try Self.diagnose("chrissanders__tcp_zerowindowrecovery.pcapng")
        let slow = findings.named("zero-window/receiver-slow")
        #expect(slow.count == 1, "\(findings.names)")
        let finding = try #require(slow.first)
        #expect(finding.flow?.client == "192.168.0.20:2235")
        #expect(finding.firstFrame == 4)
        #expect(finding.decisiveFrame == 5)
        #expect(finding.evidence["windows_before_first_zero"] == .list([8760, 5840, 2920, 0]))
        #expect(finding.evidence["still_zero_at_end"] == .bool(false))
        #expect(findings.filter(\.isFailure).count == 1)
    }

    @Test("single RST/ACK to a SYN, no TTL baseline: refused-by-host with lowered confidence")
    func refusedWithoutBaseline() throws {
        let findings = try Self.diagnose("chrissanders__tcp_refuseconnection.pcapng")
        #expect(findings.names == ["rst/refused-by-host"])
        let finding = try #require(findings.first)
        #expect(finding.decisiveFrame == 2)
        #expect(finding.analyzerConfidence < 0.8)
        #expect(finding.confidenceLevel == "medium")
        #expect(finding.evidence["sender_baseline_ttl"] == .string("none"))
        #expect(finding.evidence["rst_ttl"] == .int(255))
        #expect(finding.evidence["caveat"]?.description.contains("no other packet from 192.168.100.1") == true)
    }

    @Test("SYN retransmitted and never answered: syn/unanswered")
    func unansweredSYN() throws {
        let findings = try Self.diagnose("chrissanders__nowebaccess3.pcapng")
        #expect(findings.names == ["syn/unanswered"])
        let finding = try #require(findings.first)
        #expect(finding.evidence["syns"] == .int(3))
        #expect(finding.firstFrame == 3)
        #expect(finding.decisiveFrame == 5)
    }

    @Test("every packet twice (TTL 128/127): capture artifact plus refused-by-host, no loss")
    func doubleVision() throws {
        let findings = try Self.diagnose("chrissanders__double-vision.pcap")
        let artifacts = findings.named("capture-artifact/duplicated-capture")
        #expect(artifacts.count == 2, "\(findings.names)")
        #expect(artifacts.allSatisfy { $0.evidence["ttl_differences"] == .list([1]) })
        let refused = findings.named("rst/refused-by-host")
        #expect(refused.count == 1)
        #expect(refused.first?.flow?.server == "12.234.14.63:424")
        #expect(refused.first?.decisiveFrame == 7)
        #expect(!findings.contains { $0.kind == "retransmission" }, "\(findings.names)")
    }

    @Test("RSTs without FIN, spontaneous: aborted-by-application on both connections")
    func clientRefuse() throws {
        let findings = try Self.diagnose("chrissanders__http-client-refuse.pcap")
        let aborted = findings.named("rst/aborted-by-application")
        #expect(aborted.count == 2, "\(findings.names)")
        #expect(Set(aborted.map(\.decisiveFrame)) == [28, 29])
        // The client's RST continues its IP ID sequence; the server's matches its TTL baseline.
        let client = try #require(aborted.first { $0.decisiveFrame == 29 })
        #expect(client.evidence["ip_id_continues_sender_sequence"] == .bool(true))
        let server = try #require(aborted.first { $0.decisiveFrame == 28 })
        #expect(server.evidence["sender_baseline_ttl"] == .int(245))
        #expect(server.evidence["ttl_difference"] == .int(0))
    }

    @Test("fast retransmission after three SACK duplicate ACKs: packet-loss (fast002)")
    func fastRetransmit002() throws {
        let findings = try Self.diagnose("zeek-pr33__fast002.trace")
        let loss = findings.named("retransmission/packet-loss")
        #expect(loss.count == 1, "\(findings.names)")
        let finding = try #require(loss.first)
        #expect(finding.decisiveFrame == 40)
        #expect(finding.evidence["duplicate_acks_before"] == .int(3))
        #expect(finding.evidence["vantage_position"] == .string("sender side"))
    }

    /// README: "first data segment lost, 4 SACK dup ACKs, fast retransmission". The capture says
    /// otherwise: the ACK covering the hole (frame 23) came 3.6 ms after the fast retransmission
    /// (frame 22) while the round trip is 51.7 ms, and a D-SACK (frame 26) reported a duplicate —
    /// the original arrived late. The diagnosis must not call this loss.
    @Test("fast001: the fast retransmission was spurious — the original arrived late (reordering)")
    func fastRetransmit001() throws {
        let findings = try Self.diagnose("zeek-pr33__fast001.trace")
        let reordering = findings.named("reordering/path-reordering")
        #expect(reordering.count == 1, "\(findings.names)")
        let finding = try #require(reordering.first)
        #expect(finding.decisiveFrame == 23)
        #expect(finding.evidence["spurious_retransmission_frames"] == .list([22]))
        #expect(findings.named("retransmission/packet-loss").isEmpty, "\(findings.names)")
    }

    @Test("same segment resent five times with doubling RTO, never answered: a dead connection, ambiguous why")
    func connectionLost() throws {
        let findings = try Self.diagnose("chrissanders__tcp-con-lost.pcap")
        // From one vantage, lost segments, lost ACKs and a vanished peer look the same.
        let dead = findings.named("retransmission/undetermined")
        #expect(dead.count == 1, "\(findings.names)")
        let finding = try #require(dead.first)
        #expect(finding.evidence["retransmissions"] == .int(5))
        #expect(finding.evidence["unanswered_at_end"] == .int(5))
        #expect(finding.severityName == "critical")
        #expect(finding.analyzerConfidence <= 0.5)
        #expect(finding.sentence.contains("Ambiguous"))
        #expect(findings.named("retransmission/packet-loss").isEmpty)
    }

    @Test("timeout retransmission of a whole flight: packet-loss")
    func timeoutFlight() throws {
        let findings = try Self.diagnose("zeek-pr33__rto003.trace")
        let loss = findings.named("retransmission/packet-loss")
        #expect(loss.count == 1, "\(findings.names)")
        #expect(loss.first?.evidence["sender"] == .string("192.168.0.16:80"))
        #expect((loss.first?.evidence["retransmissions"]?.intValue ?? 0) >= 10)
    }

    @Test("reordering trace: the late segment (frames 73/74) is path-reordering, not loss")
    func reorderingViaProximity() throws {
        let findings = try Self.diagnose("zeek-pr33__reordering-via-proximity.trace")
        let reordering = findings.named("reordering/path-reordering")
        #expect(reordering.count == 1, "\(findings.names)")
        let finding = try #require(reordering.first)
        #expect(finding.firstFrame == 73)
        #expect(finding.decisiveFrame == 74)
        #expect(finding.evidence["spurious_retransmissions"] == .int(0))
        // The segments the sender resent after duplicate ACKs carry fresh IP IDs in its sending
        // order (frames 99, 100, 106, 107, 332, 333): those are retransmissions of lost data.
        let loss = findings.named("retransmission/packet-loss")
        #expect(loss.first?.frames["capture"]?.related.contains(99) == true)
    }

    @Test("heavy loss with spurious go-back-N retransmissions: packet-loss (receiver side)")
    func lossWindow() throws {
        let findings = try Self.diagnose("zeek-pr33__loss-window-approximation.trace")
        let loss = findings.named("retransmission/packet-loss")
        #expect(loss.count == 1, "\(findings.names)")
        let finding = try #require(loss.first)
        #expect(finding.evidence["vantage_position"] == .string("receiver side"))
        #expect((finding.evidence["spurious_in_recovery"]?.intValue ?? 0) > 0)
        // The swapped pairs (IP IDs out of order, filled within microseconds) are reordering.
        #expect(findings.named("reordering/path-reordering").first?.evidence["shown_by_ip_id_order"] != .int(0))
    }

    @Test("every packet four times: capture artifact, no retransmission finding")
    func sshDups() throws {
        let findings = try Self.diagnose("zeek__ssh-dups.pcap")
        #expect(findings.names == ["capture-artifact/duplicated-capture"])
        #expect(findings.first?.evidence["retransmissions_left_after_removing_copies"] == .int(0))
    }

    @Test("clean controls give no failure finding", arguments: [
        "zeek__smb2.pcap", "chrissanders__http_espn.pcapng", "zeek__tcp-fast-open.pcap",
    ])
    func cleanControls(_ file: String) throws {
        let findings = try Self.diagnose(file)
        #expect(findings.filter(\.isFailure).isEmpty, "\(findings.names)")
    }

    @Test("receiver that pauses 3.5 s with persist probes flagged keep-alive: receiver-stopped-reading")
    func semanticsZeroWindow() throws {
        let findings = try Self.diagnose("semantics/t2_zwin.pcap")
        let stopped = findings.named("zero-window/receiver-stopped-reading")
        #expect(stopped.count == 1, "\(findings.names)")
        #expect(stopped.first?.evidence["probes"] == .int(4))
        // The persist probes are not benign keep-alives; the three later real keep-alives are.
        #expect(findings.named("keep-alive/benign").first?.evidence["keep_alives"] == .int(3))
    }

    @Test("router loss seen from sender and receiver: lost between the vantages")
    func routerLossTwoVantages() throws {
        let result = try Self.diagnose([("sender", "semantics/t4_router_sender.pcap"),
                                        ("receiver", "semantics/t4_router_receiver.pcap")])
        let loss = result.findings.named("retransmission/packet-loss")
        #expect(loss.count == 1, "\(result.findings.names)")
        let finding = try #require(loss.first)
        #expect(finding.vantage == ["sender", "receiver"])
        #expect(finding.evidence["lost_between_vantages"] == .string("sender → receiver"))
        // Classic pcap records no capture window: the receiver's packets around the loss say it
        // was listening, a little less surely than a recorded window would.
        #expect(finding.analyzerConfidence >= 0.85)
        // The router also swapped a few segments: both vantages show it (IP IDs at the receiver).
        #expect(result.findings.named("reordering/path-reordering").count == 1)
    }
}
