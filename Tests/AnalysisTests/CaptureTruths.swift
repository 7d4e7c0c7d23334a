import Testing

/// The written truth for every real capture in `../shared/captures` and its `semantics/`,
/// established from the packets by hand (tshark -n -r FILE, frame by frame), not from the
/// analyzer's output. Per capture: the findings that must be reported, with the evidence a
/// person would cite, and the look-alikes that must not be. Where the packets cannot decide,
/// the truth is "ambiguous" and the finding must say so with confidence <= 0.5.
///
/// `knownIssue` marks a truth the analyzer does not meet yet: the test records it as a known
/// issue (and fails once it is met, so the mark gets removed).
struct CaptureTruth: Sendable, CustomTestStringConvertible {
    var file: String
    /// What a person reading the packets cites for the truth.
    var why: String
    var must: [Expected] = []
    var mustNot: [Expected] = []
    /// Every failure finding (severity above info) must be listed in `must` or `allowed`.
    var allowed: [String] = []
    var knownIssue: String?

    var testDescription: String { file }

    struct Expected: Sendable, CustomStringConvertible {
        /// "kind/cause", "kind/*" for any cause, or "kind/a|b" for either.
        var name: String
        var decisive: UInt64?
        var minConfidence: Double?
        var maxConfidence: Double?
        var maxSeverity: String?
        var minSeverity: String?
        /// Words the sentence must hold (ambiguity, the sender's identity...).
        var sentenceHas: [String] = []
        /// Words the sentence must not hold (claims the packets contradict).
        var sentenceLacks: [String] = []
        var evidenceKeys: [String] = []

        var description: String {
            name + (decisive.map { " @\($0)" } ?? "")
        }
    }
}

extension CaptureTruth {
    typealias E = Expected

    static let all: [CaptureTruth] = [
        CaptureTruth(
            file: "chrissanders__double-vision.pcap",
            why: "Every packet twice (TTL 128 then 127, same IP ID): one capture before and after a router. "
                + "SYN 5 to port 424 answered at once (7) by RST/ACK, ack = ISN + 1: nothing listens. The stray ACK 1 "
                + "arrives with TTL 47 where the same address's SYN 5 has 128: not one host, so the bare RST 3 "
                + "answering it says nothing about a host that lost its state.",
            must: [E(name: "capture-artifact/duplicated-capture"),
                   E(name: "rst/refused-by-host", decisive: 7)],
            mustNot: [E(name: "rst/*", decisive: 3, minConfidence: 0.51),
                      E(name: "rst/*", decisive: 3, sentenceHas: ["restarted"]),
                      E(name: "retransmission/*")],
            allowed: ["rst/peer-has-no-connection", "rst/undetermined"]),
        CaptureTruth(
            file: "chrissanders__http-client-refuse.pcap",
            why: "Port 1783: SYN/ACK 20, ACKs 24/25 and RST 28 have TTL 245 and window 3840, the SYN/ACK's IP ID "
                + "equals the client SYN's; the one data segment 26 has TTL 53, window 33280: a front end answered "
                + "the handshake and, 9 s after the client's last ACK, reset the idle connection at its next sequence "
                + "number (bare RST). Port 1782: the client's RST/ACK 29, 65 s after its last ACK, at its next "
                + "sequence number: the client closed its idle keep-alive connection abortively; nothing was "
                + "outstanding on either connection.",
            must: [E(name: "rst/aborted-by-application", decisive: 29, maxSeverity: "minor"),
                   E(name: "rst/aborted-by-application", decisive: 28, maxSeverity: "minor",
                     sentenceLacks: ["as 216.52.17.206's other packets"], evidenceKeys: ["sender_stacks"])]),
        CaptureTruth(
            file: "chrissanders__http_espn.pcapng",
            why: "An ordinary page load: 25 connections, one lost-segment flag from the capture starting mid-flow.",
            mustNot: [E(name: "retransmission/*", minSeverity: "major"), E(name: "rst/*")]),
        CaptureTruth(
            file: "chrissanders__inconsistent_printer.pcapng",
            why: "Five times the printer's window falls below one 1460-byte segment without reaching zero (628 at 31, "
                + "reopened 1.17 s later at 32, the client sending at once at 33; ...; 180 at 101, reopened 1.42 s later "
                + "at 102); later 1092 (119), the client "
                + "sends exactly 1092 bytes after 4.8 s (120) and re-sends them (121, 122) into 16 s of silence: "
                + "a receiver that limits and then stops taking data, with no zero window advertised.",
            must: [E(name: "zero-window/receiver-slow", decisive: 32, sentenceLacks: ["fell to zero"],
                     evidenceKeys: ["window_reached_zero", "smallest_window"])],
            mustNot: [E(name: "retransmission/packet-loss"), E(name: "retransmission/congestion-loss")],
            allowed: ["retransmission/undetermined"]),
        CaptureTruth(
            file: "chrissanders__nowebaccess3.pcapng",
            why: "SYN, retransmitted twice with growing intervals, never answered.",
            must: [E(name: "syn/unanswered", decisive: 5)]),
        CaptureTruth(
            file: "chrissanders__tcp-con-lost.pcap",
            why: "One 648-byte segment (2) sent six times with RTO backoff (5-9, 0.2 -> 4.8 s) and 9.2 s of silence "
                + "from the peer: the connection is dead. From one vantage, lost segments, lost ACKs and a vanished "
                + "peer cannot be told apart.",
            must: [E(name: "retransmission/packet-loss|undetermined", maxConfidence: 0.5, minSeverity: "critical",
                     sentenceHas: ["mbiguous"])],
            mustNot: [E(name: "retransmission/*", minConfidence: 0.51)]),
        CaptureTruth(
            file: "chrissanders__tcp_refuseconnection.pcapng",
            why: "SYN to port 80 answered at once with RST/ACK (ack = ISN + 1, Win 0): refused. One packet from the "
                + "host: no TTL baseline, so a firewall answering for it looks the same.",
            must: [E(name: "rst/refused-by-host", decisive: 2, maxConfidence: 0.8)]),
        CaptureTruth(
            file: "chrissanders__tcp_zerowindowrecovery.pcapng",
            why: "Window 8760 -> 5840 -> 2920 -> 0, then a window update (64240) and the transfer resumes.",
            must: [E(name: "zero-window/receiver-slow")]),
        CaptureTruth(
            file: "semantics/t1_rst.pcap",
            why: "Two SYNs to a closed port (2, 4: RST/ACK, ack = ISN + 1). On port 7001 the host answered the SYN "
                + "(6) 40 us before it reset the first data segment (9): it had the connection, so 'no longer has "
                + "this connection' is contradicted; a reject rule (here nft on the host) answered for it.",
            must: [E(name: "rst/refused-by-host", decisive: 2), E(name: "rst/refused-by-host", decisive: 4)],
            mustNot: [E(name: "rst/peer-has-no-connection", decisive: 9, minConfidence: 0.51)],
            allowed: ["rst/injected-by-middlebox", "rst/undetermined", "rst/peer-has-no-connection"]),
        CaptureTruth(
            file: "semantics/t2_zwin.pcap",
            why: "A receiver that never reads: window full, zero window, persist probes tshark calls keep-alives.",
            must: [E(name: "zero-window/receiver-stopped-reading")],
            mustNot: [E(name: "retransmission/*", minSeverity: "major")]),
        CaptureTruth(
            file: "semantics/t3_seen_A.pcap",
            why: "A segment seen at the receiver's capture point and dropped after it (receiver-side drop): "
                + "dup ACKs stand at it, the sender resends it.",
            must: [E(name: "retransmission/packet-loss")]),
        CaptureTruth(
            file: "semantics/t3_unseen_A.pcap",
            why: "tshark flags nothing in this run: no loss is visible.",
            mustNot: [E(name: "retransmission/*"), E(name: "rst/*")]),
        CaptureTruth(
            file: "semantics/t4_router_receiver.pcap",
            why: "3 % random loss in a router, from the receiver: gaps, dup ACKs, retransmissions filling them.",
            must: [E(name: "retransmission/packet-loss")],
            allowed: ["reordering/path-reordering"]),
        CaptureTruth(
            file: "semantics/t4_router_sender.pcap",
            why: "The same loss from the sender: dup ACKs/SACK at the lost segments before each retransmission.",
            must: [E(name: "retransmission/packet-loss")],
            allowed: ["reordering/path-reordering"]),
        CaptureTruth(
            file: "semantics/t5_ackunseen.pcap",
            why: "t2_zwin with one data frame removed from the file: the receiver still stopped reading.",
            must: [E(name: "zero-window/receiver-stopped-reading")],
            mustNot: [E(name: "retransmission/*", minSeverity: "major")]),
        CaptureTruth(
            file: "semantics/t5_nosyn.pcap",
            why: "t2_zwin without its handshake: the receiver still stopped reading.",
            must: [E(name: "zero-window/receiver-stopped-reading")],
            mustNot: [E(name: "retransmission/*", minSeverity: "major")]),
        CaptureTruth(
            file: "zeek-pr33__fast001.trace",
            why: "Vantage at the server (SYN/ACK 60 us after the SYN, RTT 52 ms). The fast retransmission 22 of "
                + "the first data segment is covered by ACK 23 3.6 ms later, far sooner than a round trip: the "
                + "original arrived late (reordering), the retransmission was spurious. RST/ACK 38 comes 6 s after "
                + "the server's FIN (36) was acknowledged: an ordinary, abortive end of a finished connection.",
            must: [E(name: "reordering/path-reordering", decisive: 23)],
            mustNot: [E(name: "retransmission/packet-loss"), E(name: "rst/*", minSeverity: "major")],
            allowed: ["retransmission/rtt-exceeds-rto", "retransmission/spurious-delayed-ack",
                      "retransmission/undetermined", "rst/aborted-by-application"]),
        CaptureTruth(
            file: "zeek-pr33__fast002.trace",
            why: "Three SACK dup ACKs, then the fast retransmission 40 fills the hole: loss. RST/ACK 44 from the "
                + "client 63 s after everything was acknowledged: an abortive close of an idle connection.",
            must: [E(name: "retransmission/packet-loss", decisive: 40)],
            mustNot: [E(name: "rst/*", minSeverity: "major")],
            allowed: ["rst/aborted-by-application"]),
        CaptureTruth(
            file: "zeek-pr33__loss-window-approximation.trace",
            why: "Heavy loss: dup ACKs at the holes, retransmissions fill them. Frames 185 (seq 109094) and 255 "
                + "(148582) are the first copies seen, sent after dup ACKs began, with later TSvals than their "
                + "flight: retransmissions of segments lost before the capture point, not late originals.",
            must: [E(name: "retransmission/packet-loss")],
            mustNot: [E(name: "reordering/path-reordering", decisive: 187)],
            allowed: ["reordering/path-reordering", "retransmission/undetermined"]),
        CaptureTruth(
            file: "zeek-pr33__reordering-via-proximity.trace",
            why: "Out-of-order segments arriving within a fraction of an RTT (73/74): reordering; a few real losses.",
            must: [E(name: "reordering/path-reordering")],
            allowed: ["retransmission/packet-loss", "retransmission/undetermined"]),
        CaptureTruth(
            file: "zeek-pr33__rto003.trace",
            why: "A whole flight retransmitted by timeout, go-back-N.",
            must: [E(name: "retransmission/packet-loss")]),
        CaptureTruth(
            file: "zeek__206_example_b.pcap",
            why: "Stream 0: the client advertises Win=0 at ack 899890 (1047-1096) and falls silent; the server's "
                + "retransmitted range starts exactly at that edge (overrun of a zero window, not path loss), "
                + "12 unanswered retransmissions with backoff capped near 15.6 s (1278-1301), and RST 1302 on the "
                + "next slot: the server's TCP gave up, not an application. Stream 1: the client's RST/ACK 1556 "
                + "26 s after the server's FIN: an abortive end of a finished download.",
            must: [E(name: "zero-window/*", evidenceKeys: ["overrun_segments"])],
            mustNot: [E(name: "retransmission/packet-loss"),
                      E(name: "rst/aborted-by-application", decisive: 1302, minConfidence: 0.51),
                      E(name: "rst/*", decisive: 1556, minSeverity: "major")],
            allowed: ["rst/aborted-by-application", "rst/undetermined", "retransmission/undetermined"]),
        CaptureTruth(
            file: "zeek__docker-http-upgrade.pcap",
            why: "Idle connections kept open with Linux keep-alives every ~15 s, each answered.",
            must: [E(name: "keep-alive/benign")],
            mustNot: [E(name: "retransmission/*"), E(name: "rst/*")]),
        CaptureTruth(
            file: "zeek__fin_retransmission.pcap",
            why: "The client sent a bare FIN (2) before the SYN/ACK arrived, then FIN/ACK 4 whose seq is the ISN "
                + "(out of window); the server, which had answered the SYN (3), reset it one RTT later (5): it had "
                + "the connection, so 'no longer has this connection' is contradicted.",
            must: [E(name: "rst/*", decisive: 5, maxConfidence: 0.5),
                   E(name: "retransmission/undetermined", sentenceHas: ["FIN (sent 2 times)", "ISN"])],
            mustNot: [E(name: "rst/peer-has-no-connection", minConfidence: 0.51),
                      E(name: "rst/*", sentenceHas: ["restarted"])],
            allowed: ["retransmission/*"]),
        CaptureTruth(
            file: "zeek__reassembly.pcap",
            why: "Gaps, dup ACKs and retransmissions filling them: loss.",
            must: [E(name: "retransmission/packet-loss")],
            allowed: ["reordering/path-reordering", "retransmission/undetermined"]),
        CaptureTruth(
            file: "zeek__smb2.pcap",
            why: "An ordinary LAN SMB2 read, no analysis flags.",
            mustNot: [E(name: "retransmission/*"), E(name: "rst/*"), E(name: "zero-window/*")]),
        CaptureTruth(
            file: "zeek__smb3_multichannel.pcap",
            why: "Four idle connections (keep-alives every 30 s, each answered) reset together by the server "
                + "(RST/ACK 1433-1436 at its next sequence numbers, no FIN, nothing outstanding): the session "
                + "was closed abortively; no data was lost.",
            must: [E(name: "keep-alive/benign"),
                   E(name: "rst/aborted-by-application", decisive: 1433, maxSeverity: "minor")],
            mustNot: [E(name: "rst/*", minSeverity: "major")],
            allowed: ["rst/aborted-by-application"]),
        CaptureTruth(
            file: "zeek__ssh-dups.pcap",
            why: "Almost every packet four times with identical timestamps: the capture duplicated them.",
            must: [E(name: "capture-artifact/duplicated-capture")],
            mustNot: [E(name: "retransmission/*")]),
        CaptureTruth(
            file: "zeek__tcp-fast-open.pcap",
            why: "Two TCP Fast Open connections, clean.",
            mustNot: [E(name: "retransmission/*"), E(name: "rst/*")]),
    ]
}
