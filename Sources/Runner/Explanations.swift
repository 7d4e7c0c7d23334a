import Analysis

/// `faultline explain KIND/CAUSE`: what a diagnosis means, what the wire shows, how to fix it,
/// and the common myths about it, corrected. The content follows failure-modes.md (shared docs),
/// including what was measured on Linux 6.18.
public struct Explanation: Sendable, Hashable, Encodable {
    public var kind: String
    public var cause: String
    /// The failure-mode catalog row(s), e.g. "R2".
    public var rows: String
    public var title: String
    public var meaning: String
    public var wire: String
    public var fix: String
    /// Myths found in other texts, and what is true instead.
    public var myths: [String]
    /// Catalog scenarios that reproduce it.
    public var scenarios: [String]

    public var diagnosis: String { "\(kind)/\(cause)" }

    init(_ diagnosis: AnalyzerDiagnosis, rows: String, title: String, meaning: String, wire: String, fix: String,
         myths: [String], scenarios: [String]) {
        kind = diagnosis.kind.rawValue
        cause = diagnosis.cause.rawValue
        self.rows = rows
        self.title = title
        self.meaning = meaning
        self.wire = wire
        self.fix = fix
        self.myths = myths
        self.scenarios = scenarios
    }

    private enum CodingKeys: String, CodingKey {
        case diagnosis, kind, cause, rows, title, meaning, wire, fix, myths, scenarios
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(diagnosis, forKey: .diagnosis)
        try c.encode(kind, forKey: .kind)
        try c.encode(cause, forKey: .cause)
        try c.encode(rows, forKey: .rows)
        try c.encode(title, forKey: .title)
        try c.encode(meaning, forKey: .meaning)
        try c.encode(wire, forKey: .wire)
        try c.encode(fix, forKey: .fix)
        try c.encode(myths, forKey: .myths)
        try c.encode(scenarios, forKey: .scenarios)
    }

    public var text: String {
        var out = "\(diagnosis)\(rows.isEmpty ? "" : "  (\(rows))") — \(title)\n\n"
        out += "WHAT IT MEANS\n\(Self.indent(meaning))\n\n"
        out += "WHAT THE WIRE SHOWS\n\(Self.indent(wire))\n\n"
        out += "HOW TO FIX IT\n\(Self.indent(fix))\n"
        if !myths.isEmpty {
            out += "\nMYTHS, CORRECTED\n"
            for myth in myths { out += Self.indent("- " + myth, hanging: true) + "\n" }
        }
        if !scenarios.isEmpty {
            out += "\nREPRODUCE IT\n"
            for s in scenarios { out += "  faultline run Scenarios/\(s).yaml    (or: faultline lab Scenarios/\(s).yaml)\n" }
        }
        return out
    }

    static func indent(_ text: String, hanging: Bool = false) -> String {
        // Wrap at 92 columns, two spaces in.
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = "  "
            var first = true
            for word in paragraph.split(separator: " ") {
                if line.count + word.count + 1 > 94 && line.trimmingCharacters(in: .whitespaces).count > 0 {
                    lines.append(line)
                    line = hanging ? "    " : "  "
                    first = true
                }
                line += (first ? "" : " ") + word
                first = false
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

public enum Explanations {
    /// A diagnosis as written by a user: `kind/cause` in any letter case, or a catalog code
    /// (`R2`, `t1`, `ZW2`).
    public static func find(_ text: String) -> Explanation? {
        let wanted = text.lowercased()
        return all.first { $0.diagnosis == wanted } ?? all.first { !$0.rows.isEmpty && $0.rows.lowercased() == wanted }
    }

    public static func causes(of kind: String) -> [Explanation] {
        all.filter { $0.kind == kind.lowercased() }
    }

    /// Every diagnosis the analyzer can emit, each once (`*/undetermined` included).
    public static let all: [Explanation] = AnalyzerDiagnosis.allCases.map(explanation(of:))

    /// The explanation of each of the analyzer's diagnoses: a switch, so a diagnosis added to
    /// `AnalyzerDiagnosis` without its explanation does not compile.
    public static func explanation(of diagnosis: AnalyzerDiagnosis) -> Explanation {
        switch diagnosis {
        case .zeroWindowReceiverSlow:
            Explanation(.zeroWindowReceiverSlow, rows: "ZW1",
                title: "the receiving application reads, but slower than data arrives",
                meaning: "The receiver's socket buffer fills because its application drains it more slowly than the sender sends. TCP flow control advertises the free space; when it reaches zero the sender must stop. Each time the application reads, space opens and the receiver announces it (a window update); the cycle repeats.",
                wire: "The advertised window shrinks, reaches 0 (the sender's last segment fills it: tshark's \"window full\"), then reopens with a window update after each read. Often the window reopens before the sender's persist timer fires, so there may be no zero-window probes at all. Small tail-loss-probe retransmissions answered with D-SACKs can appear inside an episode; they are not loss. Faultline reports the time spent at zero and the number of stalls.",
                fix: "Read faster, or in larger chunks, or give the socket a larger receive buffer: raise net.core.rmem_max and net.ipv4.tcp_rmem. Setting SO_RCVBUF by hand turns receive-buffer autotuning off, which is often why the buffer is small in the first place.",
                myths: [
                    "\"A zero window means the network is congested.\" It does not: congestion does not cause zero windows by itself. A zero window is the receiving application (or its buffer size) talking; Faultline does not claim congestion without evidence of it (RTT inflation and burst losses).",
                    "\"A zero window is an error.\" It is flow control doing its job; the problem is only how long and how often the window stays at zero.",
                ],
                scenarios: ["zw1-slow-reader", "zw3-brief-stalls", "zw4-probe-at-full-window"])
        case .zeroWindowReceiverStoppedReading:
            Explanation(.zeroWindowReceiverStoppedReading, rows: "ZW2",
                title: "the receiving application accepted the connection and stopped calling recv()",
                meaning: "The data arrives and is acknowledged by the receiver's kernel, but nobody reads it. Once the buffer is full the window falls to zero and stays there, however long the sender waits. This is an application bug: a blocked, deadlocked or dead reader thread.",
                wire: "The window falls to 0 and stays at 0. The sender's persist timer sends zero-window probes at growing intervals (exponential backoff; measured here 0.35, 0.79, 1.68, 3.44, 7.03 s); each is answered with window 0 and no window update follows until the end (or until the application is killed). Linux probes are zero-length segments with seq = snd_una − 1, so tshark flags them keep_alive, not zero_window_probe. A probe may go unanswered because the receiver rate-limits out-of-window ACKs (net.ipv4.tcp_invalid_ratelimit, 500 ms).",
                fix: "Find the reader that stopped: on the receiving host `ss -tn` shows Recv-Q growing and staying full; a stack dump or a syscall trace (strace -f -e trace=read,recvfrom) shows no reads on that socket. Fix the application (a lock, a blocked thread, a full downstream queue); buffer sizes do not help, they only delay the stall.",
                myths: [
                    "\"The sender should time out the connection.\" A sender probing a zero window keeps the connection alive as long as the probes are answered; only the application (or TCP_USER_TIMEOUT) ends it.",
                    "\"Zero-window probes are keep-alives.\" tshark calls Linux's probes keep-alives because they use the same one-byte-back sequence number; what tells them apart is the zero window advertised by the peer.",
                ],
                scenarios: ["zw2-never-read"])
        case .rstRefusedByHost:
            Explanation(.rstRefusedByHost, rows: "R1",
                title: "nothing listens on the port: the host refused the connection",
                meaning: "The client's SYN reached the server's host, but no socket listens on that port, so the host's kernel answered with a reset. The application's connect() fails with ECONNREFUSED within one round trip.",
                wire: "A SYN, then RST+ACK from the server's address with seq 0 and ack = client ISN + 1. Its TTL (hop limit) is consistent with the host's other packets: it really came from the host. On Linux a stateless RST has IP ID 0.",
                fix: "Start the service, or connect to the port it really listens on (`ss -ltn` on the server). If it listens on 127.0.0.1 only, bind it to the address clients use. If the RST's TTL does not match the host's, it was not the host: see rst/injected-by-middlebox.",
                myths: [
                    "\"ECONNREFUSED proves the server is down.\" The application sees exactly the same error when a firewall forges the RST (rst/injected-by-middlebox); only the wire tells them apart, by the RST's TTL and by its absence at the server.",
                ],
                scenarios: ["r1-closed-port"])
        case .rstInjectedByMiddlebox:
            Explanation(.rstInjectedByMiddlebox, rows: "R2",
                title: "a firewall (or other middlebox) forged the reset",
                meaning: "A device on the path answered in the server's name: a firewall rule such as nftables `reject with tcp reset`, on the SYN or in the middle of a transfer. The application sees ECONNREFUSED or ECONNRESET exactly as if the host had refused or aborted.",
                wire: "An RST carrying the server's address but generated by the router: it arrives with TTL 64 where the server's forwarded packets arrive with 63 (the forger is one hop closer). The server-side capture never shows the server sending it; mid-stream the server keeps sending or retransmitting as if nothing happened, and each segment the client sends after the rule appears gets its own bare RST (seq = that segment's ack). The IP ID does not help on Linux: every stateless RST has IP ID 0, the router's and the host's alike.",
                fix: "Find the rule: `nft list ruleset` / `iptables -S` on firewalls and routers on the path (Faultline's captures at two vantage points show where the RST appears). Allow the traffic, or fix the rule's match. Do not debug the server: it never saw the reset.",
                myths: [
                    "\"A different IP ID proves a forged RST.\" Not on Linux: the kernel sends every stateless RST with IP ID 0, the host's own included. The TTL against the host's baseline, and the RST's absence at the other vantage point, are the evidence.",
                    "\"The server reset the connection\" (because the RST carries its address). The source address of an RST proves nothing; it is trivially forged.",
                ],
                scenarios: ["r2-firewall-on-syn", "r2-firewall-mid-stream"])
        case .rstAbortedByApplication:
            Explanation(.rstAbortedByApplication, rows: "R3",
                title: "an endpoint's application aborted the connection",
                meaning: "The application (or its death) tore the connection down without a graceful close: SO_LINGER {on, 0} then close(), a close() with unread data in the receive buffer, or a process killed while data was unread. The kernel discards what is queued and sends RST; the other side's read or write fails with ECONNRESET (or EPIPE).",
                wire: "An RST without a preceding FIN, from the endpoint itself (TTL consistent with its other packets), with seq at the sender's next sequence number. An RST sent from a live socket continues that socket's IP ID sequence. Segments still in flight from the other side draw further bare RSTs from the now socket-less host: consequences of the one abort, not new aborts.",
                fix: "Look at the aborting side's application: who closes with unread data (read the request completely, or shutdown(SHUT_WR) and drain before close), who sets SO_LINGER 0 (often a misguided fix for TIME_WAIT), or why the process died. On the other side, handle ECONNRESET as a normal, expected outcome.",
                myths: [
                    "\"An RST means the network failed.\" An RST is a deliberate message from an endpoint (or a middlebox in its name); here the application chose it, sometimes without knowing (close with unread data).",
                    "\"SO_LINGER 0 is the way to avoid TIME_WAIT.\" It avoids it by aborting every connection, losing unsent data; use SO_REUSEADDR and a proper close instead.",
                ],
                scenarios: ["r3-linger-zero", "r3-close-unread"])
        case .rstPeerHasNoConnection:
            Explanation(.rstPeerHasNoConnection, rows: "R4",
                title: "half-open: the peer lost the connection's state",
                meaning: "One side still believes the connection exists; the other has no record of it (it rebooted or restarted, its connection table was flushed, or its own FIN/RST never arrived). The next segment the surviving side sends is answered with a reset and its recv or send fails with ECONNRESET.",
                wire: "Data from the surviving side, answered by an RST from the peer's host whose seq equals the ack number of the segment it answers (the kernel's \"no such connection\" reply), with the host's usual TTL and IP ID 0. Before it, a silence: the peer's FIN or RST is missing from the surviving side's capture.",
                fix: "Expect it: reconnect and retry idempotent requests on ECONNRESET. Detect it sooner with TCP keep-alives (SO_KEEPALIVE, TCP_KEEPIDLE/INTVL/CNT) or application heartbeats, and find what dropped the peer's FIN/RST (a firewall's connection timeout is the usual suspect).",
                myths: [
                    "\"A half-open connection times out by itself.\" An idle half-open connection can live forever on the surviving side; only traffic (data or keep-alives) reveals it.",
                ],
                scenarios: ["r4-half-open"])
        case .synDuplicateAnsweredWithChallengeAck:
            Explanation(.synDuplicateAnsweredWithChallengeAck, rows: "R5",
                title: "a delayed duplicate SYN met an established connection: challenge ACK",
                meaning: "A copy of the client's SYN, delayed in the network, arrives after the handshake completed. A modern stack (RFC 5961 §4, Linux) does not reset the connection: it answers the in-window SYN with a challenge ACK and the connection survives.",
                wire: "A second SYN with the original ISN after the handshake, answered within microseconds by a pure ACK (the challenge ACK; measured 29 µs, kernel counters TCPSYNChallenge = 1, TcpOutRsts = 0). tshark calls the challenge ACK a duplicate ACK. No RST.",
                fix: "Nothing to fix in the endpoints: the stack did the right thing. If duplicate SYNs are frequent, look for the path element that duplicates or delays packets (a misbehaving load balancer, a retransmitting middlebox).",
                myths: [
                    "\"A duplicate SYN makes the server send RST.\" Texts often say so; on a current Linux stack it does not. It sends a challenge ACK (RFC 5961) and the connection carries on; Faultline shows what the kernel really does.",
                ],
                scenarios: ["r5-duplicate-syn"])
        case .synUnanswered:
            Explanation(.synUnanswered, rows: "",
                title: "the SYN was never answered",
                meaning: "Neither SYN-ACK nor RST came back: something silently dropped the SYN or the answer (a firewall `drop` rule, a host that is down or unreachable, a wrong route). connect() times out.",
                wire: "The SYN retransmitted at growing intervals (Linux: 1 s, 2 s, 4 s, ...) with nothing from the server's address in between. No ICMP error either (else the error would say host or network unreachable).",
                fix: "Check that the host is up and reachable (ping, a route), and look for drop rules on the path. A firewall that drops instead of rejecting causes exactly this; `reject` makes failures fast (see rst/injected-by-middlebox).",
                myths: [
                    "\"A refused connection and a timed-out one are the same.\" A refusal is an answer (RST, within one RTT); a timeout is the absence of any answer and takes the whole SYN retry schedule.",
                ],
                scenarios: [])
        case .retransmissionPacketLoss:
            Explanation(.retransmissionPacketLoss, rows: "T1",
                title: "a packet was lost on the path",
                meaning: "A segment never reached the receiver, so the sender sent it again: after duplicate ACKs (fast retransmission) or after its retransmission timer expired (tail loss).",
                wire: "At the sender: the segment, then duplicate ACKs with SACK blocks, then a fast retransmission (or a timeout retransmission for tail loss). At the receiver: a gap (tshark \"previous segment not captured\"), out-of-order arrivals, then the retransmission filling the hole. With two vantage points: the original is in the sender's capture and missing from the receiver's. When the lost packets are the receiver's ACKs (evidence lost_packets: acks, with lost_direction), the data arrived: the receiver-side capture shows the ACKs leaving, the sender-side capture never shows them, and the sender's copies are spurious (D-SACKs).",
                fix: "Find where the packets die: compare captures along the path, check interface error and drop counters (ip -s link, ethtool -S), duplex and cabling, wireless quality. Occasional loss is normal on the internet and TCP recovers; persistent loss needs fixing at the link that drops.",
                myths: [
                    "\"Every retransmission means loss.\" Spurious retransmissions (delayed ACKs meeting a short RTO, an RTT jump) and duplicated captures look alike in tshark; loss means the original never arrived.",
                ],
                scenarios: ["t1-random-loss", "t1-deterministic-drop", "t5-ack-loss"])
        case .retransmissionSpuriousDelayedAck:
            Explanation(.retransmissionSpuriousDelayedAck, rows: "T2",
                title: "a delayed ACK outlasted the sender's retransmission timeout",
                meaning: "The original arrived, but the receiver delayed its ACK (Linux: at least 40 ms) while the sender's RTO, lowered below that, expired first. The retransmission was unnecessary: nothing was lost.",
                wire: "The original arrives; the receiver holds its ACK; the sender resends after about the RTO, far longer than the path's RTT (measured 12–16 ms with rto_min 5 ms, the kernel counting them as tail-loss probes). The receiver answers the duplicate at once with a D-SACK, which is the evidence of a spurious retransmission; tshark flags only \"retransmission\", never \"spurious\" here.",
                fix: "Do not lower the RTO below the peer's delayed-ACK time; or make the receiver acknowledge at once: TCP_QUICKACK (re-armed by the application, since the kernel clears it), the `quickack 1` route attribute, and TCP_NODELAY where Nagle's algorithm meets delayed ACKs in request/response traffic. The sender's floor is the route's `rto_min` metric (on 6.11+ also net.ipv4.tcp_rto_min_us).",
                myths: [
                    "\"Tune net.ipv4.tcp_delack_min / tcp_delack_max.\" Mainline Linux has no tcp_delack_* sysctls (some texts name them; they do not exist). The real levers are TCP_QUICKACK, the quickack route attribute, the rto_min route metric and TCP_NODELAY.",
                    "\"tshark would call it a spurious retransmission.\" It does not: the D-SACK is the evidence, and Faultline uses it.",
                ],
                scenarios: ["t2-delayed-ack"])
        case .retransmissionRTTExceedsRTO:
            Explanation(.retransmissionRTTExceedsRTO, rows: "T3",
                title: "the RTT jumped above the RTO computed from earlier samples",
                meaning: "The path's delay rose abruptly (a route change, a buffer filling elsewhere, a wireless handover): the sender's RTO, computed from the earlier, shorter RTTs, expired before the ACKs could come back.",
                wire: "Timeout retransmissions right after the jump, then ACKs for the originals (so the retransmissions were spurious; tshark marks them spurious at the receiver only), and RTT samples far above the earlier smoothed RTT. The sender adapts at once: expect one or two such events per jump, not a storm.",
                fix: "Usually none: TCP adapts within one RTO. If the jumps are regular (a flapping route, bufferbloat), fix their cause; an RTO floor (rto_min) that covers the normal RTT variation avoids the spurious retransmissions.",
                myths: [
                    "\"The retransmissions after a delay spike mean packets were lost.\" The originals arrive; the copies are spurious, and the ACKs for the originals show it.",
                ],
                scenarios: ["t3-rtt-jump"])
        case .retransmissionCongestionLoss:
            Explanation(.retransmissionCongestionLoss, rows: "T4",
                title: "the bottleneck's queue overflowed",
                meaning: "The sender pushed more than the bottleneck link carries; its queue filled and then dropped packets in bursts. TCP backs off and recovers.",
                wire: "RTT grows as the queue fills (measured with tbf at 10 Mbit and a 15 KB queue: ACK RTT 0.14 ms clean, 9.5 ms median and 36 ms max before and during the drops), then losses in bursts when it overflows, then recovery. Loss preceded by RTT inflation is the congestion signature, unlike random loss (T1).",
                fix: "Match the sending rate to the bottleneck (pacing, a congestion control such as BBR), size the bottleneck's queue sensibly (AQM such as fq_codel rather than a long FIFO), or add capacity.",
                myths: [
                    "\"Congestion shows up as zero windows.\" It does not: a zero window is the receiver's buffer; congestion shows as RTT inflation and burst losses.",
                ],
                scenarios: ["t4-congestion", "t6-shared-bottleneck"])
        case .captureArtifactDuplicatedCapture:
            Explanation(.captureArtifactDuplicatedCapture, rows: "",
                title: "every packet was captured twice",
                meaning: "The capture saw each packet more than once (a span port mirroring both directions, a capture on two interfaces of a router merged into one file). Nothing happened on the wire.",
                wire: "Identical IP ID and payload twice, with TTLs that differ by the hop count between the two capture points. tshark reports retransmissions and duplicate ACKs for them.",
                fix: "Capture at one point, or deduplicate (editcap -d); say \"capture artifact\", not \"loss\".",
                myths: ["\"tshark says retransmission, so there was loss.\" Not when the copies are the capture's own doing."],
                scenarios: [])
        case .reorderingPathReordering:
            Explanation(.reorderingPathReordering, rows: "",
                title: "packets arrived out of order, and nothing was lost",
                meaning: "The path delivered some segments after later ones (parallel links, load balancing per packet, a NIC with several queues). The receiver reassembles them.",
                wire: "Out-of-order arrivals filled within a fraction of the RTT without a retransmission; possibly duplicate ACKs, but no retransmission follows.",
                fix: "Usually nothing; heavy reordering can trigger spurious fast retransmissions, and Linux adapts its reordering threshold. Per-flow load balancing avoids it.",
                myths: ["\"Out-of-order means loss.\" Only if a retransmission fills the hole; here the original arrives, late."],
                scenarios: ["t7-fin-overtakes-data"])
        case .keepAliveBenign:
            Explanation(.keepAliveBenign, rows: "",
                title: "TCP keep-alives and their answers",
                meaning: "An idle connection's endpoint checks that the peer is still there (SO_KEEPALIVE). Harmless.",
                wire: "Zero- or one-byte segments with seq one before the next expected byte, answered by an ACK with a non-zero window. When the peer advertises a zero window, the same-looking segments are zero-window probes instead (see zero-window/receiver-stopped-reading).",
                fix: "Nothing to fix.",
                myths: ["\"Keep-alives are retransmissions.\" They re-send one old byte (or none) on purpose; the zero window (or its absence) tells a probe from a keep-alive."],
                scenarios: [])
            // Issue #18: failures engineers chase (docs/failure-modes.md, "Failures engineers chase").
        case .synRejectedByICMP:
            Explanation(.synRejectedByICMP, rows: "F1",
                title: "a firewall or router rejected the SYN with an ICMP error",
                meaning: "Something on the path (or the server's host) answered the SYN with ICMP destination unreachable — host, port or \"administratively prohibited\" — instead of forwarding it. Linux treats an unreachable for a connection in SYN-SENT as a hard error: connect() fails at once (EHOSTUNREACH for host/admin-prohibited, ECONNREFUSED for port unreachable, ENETUNREACH for a network), with no retransmission. The ICMP's source address says where the connection was stopped.",
                wire: "One SYN, then within a round trip an ICMP (or ICMPv6) destination unreachable whose quoted header carries the SYN's addresses, ports and sequence number (its ISN). The ICMP comes from the rejecting box's own address: a router's address means the path, the server's address means its host. A capture at the server never sees the SYN when the path rejected it. tshark shows the ICMP as \"Destination unreachable (…)\" and flags nothing on the TCP side: the SYN has no tcp.analysis flag at all.",
                fix: "Find the rule on the box that sent the ICMP (its address is in the finding): nft list ruleset, iptables -S, a cloud security group. If the rejection is meant, nothing to fix — it is the polite way to refuse, clients fail fast. If a silent drop is wanted instead (to hide the host), use drop and accept that clients hang until their SYN retries run out.",
                myths: [
                    "\"No route to host means a routing problem.\" EHOSTUNREACH is just as often a firewall's reject with icmp-admin-prohibited or host-unreachable; the ICMP's code and source say which.",
                    "\"Connection refused always comes from the server.\" An RST or an ICMP port unreachable forged by a firewall gives the same ECONNREFUSED; only the wire (source address, TTL, which capture saw it) tells them apart.",
                ],
                scenarios: ["f1-syn-icmp-reject", "f1-syn-dropped"])
        case .synListenQueueOverflow:
            Explanation(.synListenQueueOverflow, rows: "F3",
                title: "the server's listen (accept) queue was full, so its kernel ignored SYNs",
                meaning: "The listening socket's accept queue holds backlog + 1 finished handshakes (listen()'s backlog, capped by net.core.somaxconn). When the application accepts too slowly the queue fills, and Linux silently drops new SYNs (no SYN/ACK, no RST) and ignores final ACKs of handshakes under way, repeating its SYN/ACK instead. The client retransmits its SYN (1 s apart with Linux's linear SYN timeouts, then doubling) and connects seconds late, or times out.",
                wire: "At the server's capture: the client's SYNs arrive and go unanswered, repeated about 1 s apart, while the same port completes other handshakes (the listener is alive); or SYN/ACKs repeated although the client acknowledged them. At the client it looks exactly like a lost SYN. tshark flags the repeated SYNs as retransmissions and nothing else.",
                fix: "Accept faster (more accept threads, an event loop that is not blocked), raise the backlog in listen() and net.core.somaxconn (and net.ipv4.tcp_max_syn_backlog), and watch nstat TcpExtListenOverflows / TcpExtListenDrops and ss -ltn (Recv-Q against Send-Q).",
                myths: [
                    "\"The server is down.\" It is up and answering other connections; only its queue is full. A down host answers nothing at all.",
                    "\"A full backlog answers with RST.\" Only with net.ipv4.tcp_abort_on_overflow = 1; by default Linux stays silent so the client retries.",
                ],
                scenarios: ["f3-listen-overflow"])
        case .connectionLostPeerOrPathDown:
            Explanation(.connectionLostPeerOrPathDown, rows: "F2",
                title: "the peer died or the path went down mid-connection",
                meaning: "Everything from the peer stopped at once, in the middle of the exchange. The sender keeps retransmitting its oldest unacknowledged segment with exponential backoff (RTO doubling each time) until net.ipv4.tcp_retries2 (default 15: about 15 minutes) or TCP_USER_TIMEOUT ends it: the application's next call fails with ETIMEDOUT. On an idle connection only keep-alives notice it, and then only if enabled.",
                wire: "The peer's last packet, then only the sender: the same segment again and again at growing intervals (e.g. 200, 400, 800 ms …), never acknowledged, until the sender gives up with no RST. The first unanswered segment follows the last answered one closely (no idle gap). A capture on the peer's side shows none of the retransmissions. tshark flags each copy as a retransmission and nothing more.",
                fix: "Find what broke on the path (a link, a router, a crashed host). To notice faster: lower tcp_retries2, set TCP_USER_TIMEOUT on the socket, or enable keep-alives with short timers on idle connections.",
                myths: [
                    "\"Retransmissions mean packet loss.\" Loss is random and some copies get through; here none do and the intervals double — the path or peer is gone.",
                    "\"TCP notices a dead peer quickly.\" Not without traffic or keep-alives, and with data outstanding only after tcp_retries2's backoff (minutes).",
                ],
                scenarios: ["f2-path-down"])
        case .connectionLostMiddleboxStateExpired:
            Explanation(.connectionLostMiddleboxStateExpired, rows: "F2",
                title: "a stateful middlebox forgot the idle connection",
                meaning: "A connection-tracking firewall, NAT gateway or load balancer keeps a table entry per connection and removes it after its own idle timeout (conntrack's nf_conntrack_tcp_timeout_established, a cloud NAT's 350 s, a load balancer's idle timeout). When the connection speaks again after a longer idle time, the box no longer knows it: the packet is dropped as invalid (or answered with a forged RST). Both hosts are alive and still consider the connection open.",
                wire: "An exchange that worked, a long idle gap, then the first segment after the gap is never answered: retransmissions with exponential backoff until the sender gives up (ETIMEDOUT), no RST. Everything before the gap was answered. The peer's capture never sees the segments. With a reject rule instead of drop, a forged RST (TTL of the middlebox, not the peer) answers the segment after the gap. tshark shows retransmissions only.",
                fix: "Keep the connection's state alive: TCP keep-alives (or application pings) more often than the middlebox's timeout, or raise that timeout. Applications with connection pools should validate or recycle idle connections.",
                myths: [
                    "\"The server dropped the connection.\" The server still has it; ss on the server shows it ESTABLISHED. The state was lost in the middle.",
                    "\"It is packet loss.\" Random loss lets some copies through; here every copy after the idle gap vanishes, and only after an idle gap.",
                ],
                scenarios: ["f2-conntrack-idle"])
        case .connectionLostUndetermined:
            Explanation(.connectionLostUndetermined, rows: "",
                title: "a connection that went silent for a reason the captures cannot decide",
                meaning: "One side's segments stopped being answered, but the captures do not show whether the path, the peer or a middlebox ended it.",
                wire: "Unanswered retransmissions at the end of a connection, without the idle gap or the backoff pattern that would place the cause.",
                fix: "Capture at both ends and on the middlebox; check conntrack/NAT timeouts and the peer's health.",
                myths: ["\"Silence means the peer closed the connection.\" A closed connection says so (FIN or RST); silence means packets are not getting through."],
                scenarios: [])
        case .stallNagleDelayedAck:
            Explanation(.stallNagleDelayedAck, rows: "F4",
                title: "Nagle's algorithm waited for an ACK the receiver was delaying",
                meaning: "The sender wrote one message in two (or more) small writes with Nagle's algorithm on (no TCP_NODELAY). The first small segment goes out at once; Nagle holds the second — smaller than the MSS, while unacknowledged data is in flight — until the first is acknowledged. The receiver, waiting for the whole message before it answers, has nothing to send and delays its ACK (Linux: at least 40 ms; Windows 200 ms). Each exchange stalls for the delayed-ACK time, on a path whose round trip may be a tenth of a millisecond.",
                wire: "A small segment; nothing for ~40 ms; a pure ACK of exactly that segment; within a round trip the rest of the message (the held segment); the answer at once. The same pattern on every exchange. tshark flags nothing: every segment is in order and acknowledged, only the time column shows the gaps.",
                fix: "Write each message in one call (build it in a buffer, writev/sendmsg, MSG_MORE or TCP_CORK while assembling), or set TCP_NODELAY on the sender. Turning off delayed ACKs on the receiver (TCP_QUICKACK, quickack route metric) hides it too, but the split write is the bug.",
                myths: [
                    "\"The server is slow.\" It answers at once when the message is complete; the 40 ms are between the two halves of the request, not after it.",
                    "\"Nagle's algorithm adds 200 ms.\" Nagle adds nothing alone; it waits for an ACK, and only the peer's delayed ACK makes the wait long.",
                    "\"Always set TCP_NODELAY.\" It hides the split write at the price of more small packets; writing the message at once fixes it.",
                ],
                scenarios: ["f4-nagle-delayed-ack"])
        case .stallServerThinkTime:
            Explanation(.stallServerThinkTime, rows: "F4",
                title: "the server took its time to answer",
                meaning: "Each request went out whole and was answered only after a pause far longer than the path's round trip: the time is spent in the server application (computation, a database, a lock), not on the network.",
                wire: "The request's last segment, then nothing from the server (or only its delayed ACK, 40 ms later) until the answer, tens or hundreds of round trips later. No retransmission, no window problem. tshark shows the gaps in tcp.time_delta and flags nothing.",
                fix: "Look in the server: profile the handler, its dependencies and its queueing. The network is not the bottleneck.",
                myths: ["\"A slow answer is a network problem.\" The handshake's RTT and the prompt ACKs show the path is fast; the pause is after the request arrived."],
                scenarios: ["f4-nagle-delayed-ack"])
        case .stallUndetermined:
            Explanation(.stallUndetermined, rows: "",
                title: "an exchange that stalled for a reason the captures cannot decide",
                meaning: "A request/response exchange paused far longer than the path's round trip, but the capture does not show whether a held segment, the server or the path spent the time.",
                wire: "Gaps between a message and its answer without the small-segment/delayed-ACK pattern or a complete request.",
                fix: "Capture at both ends and log the application's write calls and its processing time.",
                myths: ["\"Gaps in a capture are network delay.\" Most gaps are one end waiting: for an ACK, for the application, for a timer."],
                scenarios: [])
        case .latencyBufferbloat:
            Explanation(.latencyBufferbloat, rows: "F5",
                title: "a deep queue at the bottleneck filled up (bufferbloat)",
                meaning: "The bottleneck (a rate-limited link, a modem, a Wi-Fi driver, a switch port) has a FIFO queue far deeper than its rate needs. It never drops, so a loss-based congestion control (CUBIC, Reno) keeps growing its window and the excess stands in the queue: the round trip climbs from the path's own to hundreds of milliseconds or seconds, while nothing is lost. Every other packet through that queue — another connection's SYN, a small request, a DNS query, a game's update — waits behind it.",
                wire: "At the sender: the ACKs of its data come later and later (ACK RTT from 0.1 ms to hundreds of ms) while bytes in flight grow to hundreds of kilobytes; no retransmission, no duplicate ACK, no zero window. A second connection started during the transfer takes as long for its handshake and its first answer. tshark flags nothing; its ack_rtt column shows the climb.",
                fix: "Put an AQM at the bottleneck (fq_codel, cake: tc qdisc replace dev X root cake bandwidth R), or size its queue to about one bandwidth-delay product; a delay-based congestion control (BBR) on the sender also keeps the queue short. More bandwidth only moves the problem.",
                myths: [
                    "\"No packet loss means the network is fine.\" The loss-free path here adds hundreds of milliseconds to everything that shares it.",
                    "\"Bigger buffers are better: they prevent loss.\" Loss is how TCP learns the rate; a buffer that never drops makes every flow behind it slow.",
                    "\"High latency under load is congestion loss.\" Congestion loss shows retransmissions after the RTT climb; bufferbloat shows the climb alone.",
                ],
                scenarios: ["f5-bufferbloat"])
        case .latencyUndetermined:
            Explanation(.latencyUndetermined, rows: "",
                title: "a round trip that grew for a reason the captures cannot decide",
                meaning: "The round trip grew far beyond the path's own, but the captures do not show whether a queue, a receiver or a route change did it.",
                wire: "ACKs arriving later and later, without the loss-free, load-driven climb of a queue.",
                fix: "Capture at the sender and at the bottleneck; read the queue's length there (tc -s qdisc).",
                myths: ["\"RTT is a property of the path.\" Under load it is mostly the queues on it."],
                scenarios: [])
        case .throughputReceiveWindowLimited:
            Explanation(.throughputReceiveWindowLimited, rows: "F6",
                title: "the receive window, not the path, capped the transfer",
                meaning: "A sender may have at most the receiver's advertised window in flight, so a transfer cannot go faster than window / RTT. Without window scaling (RFC 7323) the window is at most 65 535 bytes: 26 Mbit/s at 20 ms, 5 Mbit/s at 100 ms, whatever the link carries. Scaling is lost when a middlebox strips the option from the SYN (old firewalls, some load balancers and \"TCP optimizers\"), when an end turns it off, or the receive buffer itself is too small for the path.",
                wire: "Every segment ends at the receiver's window edge; bytes in flight pinned at the advertised window round after round; the window stays wide open (the receiver reads at once); no loss, no zero window. With a capture on each side of the middlebox, the client's SYN leaves with the window-scale option (WS=) and arrives without it, and the SYN/ACK then carries none. tshark marks an occasional [TCP Window Full] and shows WS= per capture, nothing more.",
                fix: "Find the box that strips the option (compare the SYN at both ends; check firewalls' TCP option normalisation) and make it pass window scaling; if scaling is in use, raise the receiver's buffer (net.ipv4.tcp_rmem max, net.core.rmem_max) to at least bandwidth × RTT.",
                myths: [
                    "\"The link is slow.\" It is idle most of each round trip: the window, not the capacity, sets the rate.",
                    "\"It is congestion.\" Congestion loses packets and shrinks the sender's window; here nothing is lost and the receiver's window is the cap.",
                    "\"The receiver is slow.\" A slow receiver's window shrinks toward zero; here it stays at its (too small) maximum.",
                ],
                scenarios: ["f6-window-scale-stripped"])
        case .throughputUndetermined:
            Explanation(.throughputUndetermined, rows: "",
                title: "a transfer slower than its path for a reason the captures cannot decide",
                meaning: "The transfer ran below what the path carries, but the captures do not show whether the receiver's window, the sender's congestion window or the application held it back.",
                wire: "Bytes in flight below the path's bandwidth-delay product, without the window-edge pattern or loss that would place the limit.",
                fix: "Capture at both ends, from the handshake on (the window-scale options decide how windows are read).",
                myths: ["\"Throughput is bandwidth.\" It is the smallest of the windows divided by the round trip, and the bandwidth."],
                scenarios: [])
        case .retransmissionPathMTUBlackHole:
            Explanation(.retransmissionPathMTUBlackHole, rows: "F7",
                title: "full-size packets vanish on a path with a smaller MTU (a path-MTU black hole)",
                meaning: "A link on the path carries smaller packets than the ends do (a tunnel, a VPN, PPPoE, a misconfigured link). Path-MTU discovery relies on that link's router answering a too-large packet (DF set) with ICMP \"fragmentation needed\" (ICMPv6 \"packet too big\"); a firewall that drops all ICMP breaks it. The handshake and small exchanges work; every full-size segment, and every copy of it, disappears. With net.ipv4.tcp_mtu_probing the sender eventually falls back to tcp_base_mss (1024) and carries on; without it the connection hangs until it times out.",
                wire: "The handshake and small segments pass; full-size segments are sent and never arrive at the receiver's capture; the first of them is retransmitted at growing intervals (RTO backoff), always full-size; no ICMP comes back; with MTU probing, after a few RTOs the same data goes out in smaller segments and is acknowledged at once. tshark flags retransmissions and duplicate ACKs — the same as random loss.",
                fix: "Let ICMP type 3 code 4 (and ICMPv6 packet-too-big) through the firewalls on the path; clamp the MSS at the smaller link (nft: tcp flags syn tcp option maxseg size set rt mtu); enable net.ipv4.tcp_mtu_probing=1 on senders as a safety net.",
                myths: [
                    "\"It is packet loss.\" Random loss takes segments of every size and lets some copies through; here only full-size packets vanish, every copy of them.",
                    "\"Blocking all ICMP is safer.\" It breaks path-MTU discovery; fragmentation-needed must pass.",
                ],
                scenarios: ["f7-pmtu-black-hole"])
        case .zeroWindowUndetermined:
            Explanation(.zeroWindowUndetermined, rows: "",
                title: "a zero window whose cause the captures cannot decide",
                meaning: "The receiver advertised a zero window, but the captures do not show whether its application reads slowly or stopped reading (for example the capture ends while the window is still at zero and no probe was answered, or only part of the episode was recorded).",
                wire: "Window 0 from the receiver; what follows (window updates after reads, or persist probes answered with 0) is missing or too short to judge. The finding's `missing` evidence says what would decide it.",
                fix: "Capture longer, through the end of the episode, and at the receiver; on the receiving host `ss -tn` shows whether Recv-Q drains.",
                myths: ["\"Undetermined means nothing happened.\" The zero window is real; only its cause is open."],
                scenarios: [])
        case .rstUndetermined:
            Explanation(.rstUndetermined, rows: "",
                title: "a reset whose origin the captures cannot decide",
                meaning: "A connection was reset, but the evidence does not tell a refusal, an abort, a forged reset or a host that lost the connection apart — typically one vantage point, no baseline of the sender's TTL or IP ID, or a reset outside any window the analyzer can check.",
                wire: "An RST whose sequence number, TTL and timing fit more than one explanation. The finding lists the candidates and what is missing (a second capture nearer the sender, the sender's other packets).",
                fix: "Capture at both ends: a reset the host never sent is absent from the capture next to it. Compare the RST's TTL and IP ID with the host's other packets.",
                myths: ["\"Every RST is an error.\" Many are orderly (a close with unread data, an answer to a stray segment); the cause decides whether to worry."],
                scenarios: [])
        case .synUndetermined:
            Explanation(.synUndetermined, rows: "",
                title: "a handshake anomaly whose cause the captures cannot decide",
                meaning: "SYNs were repeated or answered unusually, but the captures do not show why: the SYN may have been lost, dropped by a filter, or answered outside the capture.",
                wire: "Repeated SYNs (1 s, 3 s … apart on Linux) or a SYN answered by something other than a SYN/ACK, without the other vantage point that would place the silence.",
                fix: "Capture at the server too: a SYN that never arrives was dropped on the path; one that arrives unanswered was refused by the host's own filter or backlog.",
                myths: ["\"A repeated SYN means the server is down.\" A full listen queue, a firewall or a lost SYN/ACK look the same from the client."],
                scenarios: [])
        case .retransmissionUndetermined:
            Explanation(.retransmissionUndetermined, rows: "",
                title: "retransmissions whose cause the captures cannot decide",
                meaning: "Data was sent again, but the evidence does not separate loss, reordering, a spurious timeout and a receiver holding its ACK — typically one vantage point without SACK, or too few round trips to judge the RTT.",
                wire: "Retransmitted segments; what would decide (D-SACKs, the original arriving at the receiver's capture, the RTT before and after) is absent. The finding says what is missing.",
                fix: "Capture at both ends and keep SACK on: then lost originals, late originals and spurious retransmissions are told apart.",
                myths: ["\"A retransmission means a packet was lost.\" Spurious retransmissions (RTO below the RTT, delayed ACKs) are common; without SACK or a second vantage point loss and reordering look alike."],
                scenarios: [])
        }
    }
}
