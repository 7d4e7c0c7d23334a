import Values

/// Which finished flows the failure pass keeps whole (issue #12).
///
/// When the analyzer retires a conversation, its flow's notes are dropped unless one of the
/// failure modes could use them. Each clause below is a necessary condition of one mode's finding
/// (or of the flow's part in another flow's finding), evaluated with that mode's own measures, so
/// a flow let go could not have changed any finding. Which flows stay: those with a RST, a SYN or
/// SYN/ACK sent more than once or missing, a resent or out-of-order segment, a zero window, a
/// round trip of 50 ms or more, 50 data segments in one direction, a Nagle stall, slow answers
/// or an unanswered tail. On a capture of many short, healthy connections that is almost none.
extension FailureContext {
    static func mayUse(_ flow: FlowTrace) -> Bool {
        var clientSYNs = 0, serverSYNACKs = 0
        var dataSegments = (client: 0, server: 0)
        for note in flow.notes {
            // Connection lost, RST-ended connections, ICMP rejections answered by RST.
            if note.isRST { return true }
            if note.isSYN && note.fromClient { clientSYNs += 1 }
            if note.isSYNACK && !note.fromClient { serverSYNACKs += 1 }
            if note.length > 0 {
                if note.fromClient { dataSegments.client += 1 } else { dataSegments.server += 1 }
            }
        }
        // ICMP rejection (no SYN/ACK), listen-queue overflow (a SYN or SYN/ACK again), and flows
        // whose handshake this capture did not see whole.
        guard clientSYNs == 1, serverSYNACKs == 1 else { return true }
        // Window-limited throughput needs 50 segments from the sender.
        if dataSegments.client >= 50 || dataSegments.server >= 50 { return true }
        let rtt = flow.handshakeRTT
        // A bufferbloat victim waited at least half the bloated round trip (its handshake or its data).
        if let rtt, rtt >= bloatedRTT / 2 { return true }
        for senderIsClient in [true, false] {
            let series = rttSeries(flow, senderIsClient: senderIsClient)
            // Path-MTU black hole and connection lost resend; every mode's look-alike checks count
            // resends and zero windows.
            if series.retransmissions > 0 || series.zeroWindows > 0 { return true }
            // Bufferbloat: the queue's own flow (p90 ≥ 100 ms) or one waiting behind it (≥ 50 ms).
            if series.samples.contains(where: { $0.rtt >= bloatedRTT / 2 }) { return true }
            if !nagleStalls(flow, senderIsClient: senderIsClient, rtt: rtt).isEmpty { return true }
            if Stall(flow, senderIsClient: senderIsClient) != nil { return true }
        }
        // A slow server: at least two slow exchanges.
        return exchanges(flow, rtt: rtt).filter(\.slow).count >= 2
    }
}
